import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { readReplica } from "../../middleware/d1-session";
import { automatedExports, automatedResults, fetchResult } from "../../runs";

/**
 * The automated exports API (reference: automated-exports-api.txt), for integration engineers
 * with a client-credentials token carrying `automated-exports-view`:
 *
 *   GET /api/1/data-exporter/automated                         active exports and their last result
 *   GET /api/1/data-exporter/automated/:name/results?page=&perPage=  results of one export, newest first
 *   GET /api/1/data-exporter/automated/fetch/:result_id        a signed download URL for one result
 *
 * A "result" is a finished run whose file is still kept. Dates are ISO 8601 with a `+00:00` offset,
 * as in the reference.
 */
export const automatedRouter = createRouter();

const view = requireToken("automated-exports-view");
/** Read-only: served by a read replica as fresh as the client's bookmark (docs/architecture.md). */
const replica = readReplica();

const Result = z.object({ id: z.string(), expires_at: z.string().nullable(), created_at: z.string() });

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["automated exports"],
    summary: "Active exports with their most recent result",
    security: [{ bearerAuth: [] }],
    middleware: [replica, view] as const,
    responses: {
      200: {
        description: "Exports",
        content: {
          "application/json": {
            schema: z.array(z.object({ id: z.string(), system_name: z.string(), last_run: Result.nullable() })),
          },
        },
      },
    },
  }),
  async (c) => c.json(await automatedExports(c.get("services"), c.get("principal").tenantId), 200),
);

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/fetch/{result_id}",
    tags: ["automated exports"],
    summary: "A signed download URL for one result (works without a token until it expires)",
    security: [{ bearerAuth: [] }],
    middleware: [replica, view] as const,
    request: { params: z.object({ result_id: z.string().min(1).max(100) }) },
    responses: {
      200: {
        description: "Download URL",
        content: { "application/json": { schema: z.object({ result: z.object({ id: z.string(), download_url: z.string() }) }) } },
      },
    },
  }),
  async (c) => {
    const result = await fetchResult(c.get("services"), c.get("principal").tenantId, c.req.valid("param").result_id, new URL(c.req.url).origin);
    return c.json({ result }, 200);
  },
);

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/{name}/results",
    tags: ["automated exports"],
    summary: "Results of one export, newest first",
    security: [{ bearerAuth: [] }],
    middleware: [replica, view] as const,
    request: {
      params: z.object({ name: z.string().min(1).max(100) }),
      query: z.object({
        page: z.coerce.number().int().min(1).default(1),
        perPage: z.coerce.number().int().min(1).max(100).default(10),
      }),
    },
    responses: {
      200: {
        description: "Results",
        content: { "application/json": { schema: z.object({ results: z.array(Result), total: z.number() }) } },
      },
    },
  }),
  async (c) => {
    const { page, perPage } = c.req.valid("query");
    return c.json(await automatedResults(c.get("services"), c.get("principal").tenantId, c.req.valid("param").name, { page, perPage }), 200);
  },
);
