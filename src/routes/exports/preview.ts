import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { PREVIEW_ROWS, previewExport } from "../../definitions/preview";
import { ExportBody } from "../../exports/definition";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";

/** `POST /api/1/exports/preview`: what a definition would export, before it is saved. */
export const previewRouter = createRouter();

const Preview = z
  .object({
    columns: z.array(z.string()),
    rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))),
    row_count: z.number().int().openapi({ description: "rows the export would write if it ran now" }),
    format: z.string(),
    content_type: z.string(),
    text: z.string().nullable().openapi({
      description: "the start of the file as the formatter writes it (header included), before compression and encryption; null for parquet",
    }),
  })
  .openapi("ExportPreview");

previewRouter.openapi(
  createRoute({
    method: "post",
    path: "/preview",
    tags: ["exports"],
    summary: `Preview an export definition: its first ${PREVIEW_ROWS} rows as the file will hold them, and the row count`,
    description:
      "The body is an export definition, as for POST /api/1/exports; nothing is saved. It is compiled with the real compiler, " +
      `read from the tenant's data now (date: expressions evaluated now), and the first ${PREVIEW_ROWS} rows are formatted by the real ` +
      "formatter. Compression and encryption are not applied. Validation errors answer 400 with one `details` entry per offending part.",
    security: [{ bearerAuth: [] }],
    middleware: [requireToken("exports-manage")] as const,
    request: { body: { content: { "application/json": { schema: ExportBody } }, required: true } },
    responses: { 200: { description: "The preview", content: { "application/json": { schema: Preview } } } },
  }),
  async (c) => {
    const p = c.get("principal");
    return c.json(await previewExport(c.var.services, { id: p.tenantId, shard: p.shard }, c.req.valid("json")), 200);
  },
);
