import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { createRun, requireRun, runsOfExport, runView } from "../../runs";
import { RunDelivery } from "./delivery";

/** Runs ("results") of an export: start one, watch it, get its signed download link. */
export const runsRouter = createRouter();

const security = [{ bearerAuth: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const Run = z
  .object({
    id: z.string().openapi({ example: "run_..." }),
    export_id: z.string(),
    status: z.enum(["pending", "processing", "finished", "failed"]),
    trigger: z.string(),
    progress: z.number().openapi({ description: "0..1" }),
    rows: z.number().int(),
    bytes: z.number().int(),
    sha256: z.string().nullable(),
    error: z.string().nullable(),
    file_name: z.string().nullable(),
    created_at: z.string().nullable(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    expires_at: z.string().nullable(),
    expired: z.boolean().openapi({ description: "the file was deleted after its retention" }),
    download_url: z.string().nullable().openapi({ description: "signed, expiring link; once finished" }),
    delivery: RunDelivery.nullable(),
    email: z
      .object({
        status: z.enum(["sending", "sent", "failed"]),
        error: z.string().nullable().openapi({ description: "the SMTP relay's reply when sending failed (or is being retried)" }),
        sent_at: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "the email notification of this run (notification.email); null when the definition sends none" }),
  })
  .openapi("ExportRun");

const ExportParam = z.object({ id: z.string().min(1).openapi({ example: "exp_..." }) });
const RunParam = ExportParam.extend({ run_id: z.string().min(1).openapi({ example: "run_..." }) });

runsRouter.openapi(
  createRoute({
    method: "post",
    path: "/{id}/runs",
    tags: ["exports"],
    summary: "Start a run of an export now",
    security,
    middleware: [requireToken("exports-manage")] as const,
    request: { params: ExportParam },
    responses: {
      202: json(z.object({ id: z.string(), status: z.literal("pending") }), "Accepted; poll the run"),
    },
  }),
  async (c) => {
    const run = await createRun(c.get("services"), { tenantId: c.get("principal").tenantId, exportId: c.req.valid("param").id, trigger: "manual" });
    c.header("Location", `/api/1/exports/${run.export_id}/runs/${run.id}`);
    return c.json({ id: run.id, status: "pending" as const }, 202);
  },
);

runsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}/runs",
    tags: ["exports"],
    summary: "Runs of an export, newest first",
    security,
    middleware: [requireToken("exports-manage")] as const,
    request: {
      params: ExportParam,
      query: z.object({
        page: z.coerce.number().int().min(1).default(1),
        per_page: z.coerce.number().int().min(1).max(100).default(20),
      }),
    },
    responses: { 200: json(z.object({ runs: z.array(Run), total: z.number().int() }), "Runs") },
  }),
  async (c) => {
    const { page, per_page } = c.req.valid("query");
    const s = c.get("services");
    const { runs, total } = await runsOfExport(s, c.get("principal").tenantId, c.req.valid("param").id, {
      limit: per_page,
      offset: (page - 1) * per_page,
    });
    const origin = new URL(c.req.url).origin;
    return c.json({ runs: await Promise.all(runs.map((r) => runView(s, r, origin))), total }, 200);
  },
);

runsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}/runs/{run_id}",
    tags: ["exports"],
    summary: "One run: status, progress, rows, bytes, checksum, error and download link",
    security,
    middleware: [requireToken("exports-manage")] as const,
    request: { params: RunParam },
    responses: { 200: json(Run, "Run") },
  }),
  async (c) => {
    const { id, run_id } = c.req.valid("param");
    const s = c.get("services");
    const run = await requireRun(s, c.get("principal").tenantId, id, run_id);
    return c.json(await runView(s, run, new URL(c.req.url).origin), 200);
  },
);
