import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { downloadUrl } from "../../services/runs/downloads";
import { isoSeconds, type RunRow } from "../../services/runs/runs";

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


const Result = z.object({ id: z.string(), expires_at: z.string().nullable(), created_at: z.string() });
type ResultRow = Pick<RunRow, "id" | "expires_at" | "created_at">;
const toResult = (r: ResultRow) => ({ id: r.id, expires_at: isoSeconds(r.expires_at), created_at: isoSeconds(r.created_at)! });

/** Finished runs whose file is still kept (not past expires_at, not deleted by retention). */
const RESULT_WHERE =
  "tenant_id = ?1 AND status = 'finished' AND file_key IS NOT NULL AND expired_at IS NULL AND (expires_at IS NULL OR expires_at > unixepoch())";

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["automated exports"],
    summary: "Active exports with their most recent result",
    security: [{ bearerAuth: [] }],
    middleware: [view] as const,
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
  async (c) => {
    const tenantId = c.get("principal").tenantId;
    // One statement: every active export and, per export, its newest result (or null).
    const { results } = await c.env.DB.prepare(
      `SELECT e.id, e.name, r.id AS run_id, r.expires_at, r.created_at
         FROM exports e
         LEFT JOIN export_runs r ON r.id = (
           SELECT id FROM export_runs WHERE ${RESULT_WHERE} AND export_id = e.id ORDER BY created_at DESC, id DESC LIMIT 1)
        WHERE e.tenant_id = ?1 AND e.status = 'active' AND e.deleted_at IS NULL
        ORDER BY e.name`,
    )
      .bind(tenantId)
      .all<{ id: string; name: string; run_id: string | null; expires_at: number | null; created_at: number | null }>();
    return c.json(
      results.map((e) => ({
        id: e.id,
        system_name: e.name,
        last_run: e.run_id ? toResult({ id: e.run_id, expires_at: e.expires_at, created_at: e.created_at! }) : null,
      })),
      200,
    );
  },
);

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/fetch/{result_id}",
    tags: ["automated exports"],
    summary: "A signed download URL for one result (works without a token until it expires)",
    security: [{ bearerAuth: [] }],
    middleware: [view] as const,
    request: { params: z.object({ result_id: z.string().min(1).max(100) }) },
    responses: {
      200: {
        description: "Download URL",
        content: { "application/json": { schema: z.object({ result: z.object({ id: z.string(), download_url: z.string() }) }) } },
      },
    },
  }),
  async (c) => {
    const tenantId = c.get("principal").tenantId;
    const { result_id } = c.req.valid("param");
    const run = await c.env.DB.prepare(`SELECT * FROM export_runs WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, result_id).first<RunRow>();
    if (!run || run.status !== "finished") throw new ApiError("not_found", `No result ${result_id}`);
    const now = Math.floor(Date.now() / 1000);
    if (!run.file_key || run.expired_at != null || (run.expires_at != null && run.expires_at <= now)) {
      throw new ApiError(
        "gone",
        `Result ${result_id} expired${run.expires_at ? ` at ${isoSeconds(run.expires_at)}` : ""} and its file was deleted; fetch a newer result from /results`,
      );
    }
    const url = await downloadUrl(c.env, new URL(c.req.url).origin, run, now);
    if (!url) throw new ApiError("not_found", `No result ${result_id}`);
    return c.json({ result: { id: run.id, download_url: url } }, 200);
  },
);

automatedRouter.openapi(
  createRoute({
    method: "get",
    path: "/{name}/results",
    tags: ["automated exports"],
    summary: "Results of one export, newest first",
    security: [{ bearerAuth: [] }],
    middleware: [view] as const,
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
    const tenantId = c.get("principal").tenantId;
    const { name } = c.req.valid("param");
    const { page, perPage } = c.req.valid("query");
    const exp = await c.env.DB.prepare(`SELECT id FROM exports WHERE tenant_id = ?1 AND name = ?2 AND deleted_at IS NULL`)
      .bind(tenantId, name)
      .first<{ id: string }>();
    if (!exp) throw new ApiError("not_found", `No export named ${name}`);
    const [list, count] = await c.env.DB.batch([
      c.env.DB.prepare(
        `SELECT id, expires_at, created_at FROM export_runs WHERE ${RESULT_WHERE} AND export_id = ?2
          ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4`,
      ).bind(tenantId, exp.id, perPage, (page - 1) * perPage),
      c.env.DB.prepare(`SELECT count(*) AS n FROM export_runs WHERE ${RESULT_WHERE} AND export_id = ?2`).bind(tenantId, exp.id),
    ]);
    return c.json({ results: (list!.results as ResultRow[]).map(toResult), total: (count!.results[0] as { n: number }).n }, 200);
  },
);
