import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { AnalyticsSettings, analyticsFiles, configureAnalytics } from "../../definitions/analytics";

/** Daily analytics delivery to the tenant's bucket (src/definitions/analytics.ts). */
export const analyticsRouter = createRouter();

const File = z.object({ category: z.string(), model: z.string(), export_id: z.string(), status: z.string() });
const manage = requireToken("exports-manage");

analyticsRouter.openapi(
  createRoute({
    method: "put",
    path: "/",
    tags: ["analytics"],
    summary: "Set up (or change) the daily CSV drop under analytics/<Category>/ in the tenant's bucket",
    security: [{ bearerAuth: [] }],
    middleware: [manage] as const,
    request: { body: { content: { "application/json": { schema: AnalyticsSettings } }, required: true } },
    responses: { 200: { description: "One export per file", content: { "application/json": { schema: z.object({ files: z.array(File) }) } } } },
  }),
  async (c) => {
    const p = c.get("principal");
    return c.json({ files: await configureAnalytics(c.get("services"), p.tenantId, p.subject, c.req.valid("json")) }, 200);
  },
);

analyticsRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["analytics"],
    summary: "The analytics exports of the tenant",
    security: [{ bearerAuth: [] }],
    middleware: [manage] as const,
    responses: { 200: { description: "Files", content: { "application/json": { schema: z.object({ files: z.array(File) }) } } } },
  }),
  async (c) => c.json({ files: await analyticsFiles(c.get("services"), c.get("principal").tenantId) }, 200),
);
