// The runtime floor of bench/latency/run.mjs: a bench-only worker under its own `wrangler dev`
// (bench/latency/wrangler.floor.toml: the same wrangler, workerd and local D1 as the API's) that
// answers after exactly what any Worker must do to serve the automated exports reads: one D1
// query, the same SQL the API sends (getRunFile's and activeExportsWithLastResult's statements,
// src/db/runs.ts) against a copy of the API's own control database, in a D1 session opened like
// the API's read-replica routes (`first-unconstrained`), with the rows as a JSON answer. No auth,
// no middleware, no drizzle per request, no HMAC: the API's figures minus these are ferry's code.
//   GET /                            -> 200, no D1 (the bare runtime: wrangler's proxy + a worker)
//   GET /fetch/:run_id?tenant=<id>   -> 200, getRunFile's query (404 when no row)
//   GET /list?tenant=<id>            -> 200, the automated list's query
import { drizzle } from "drizzle-orm/d1";
import { activeExportsQuery, runFileQuery } from "../../src/db/runs";

interface FloorEnv {
  DB: D1Database;
}

/** A query's SQL with its parameters as sentinels, to fill per request. */
interface Template {
  sql: string;
  params: unknown[];
}

const TENANT = "\u0000tenant";
const RUN = "\u0000run";
const NOW = -7_777_777;

let templates: { fetch: Template; list: Template } | undefined;

/** The SQL drizzle builds for the API's two statements, built once per isolate (not per request). */
function sqlOf(db: D1Database) {
  templates ??= (() => {
    const d = drizzle(db);
    return { fetch: runFileQuery(d, TENANT, RUN).toSQL(), list: activeExportsQuery(d, TENANT, NOW).toSQL() };
  })();
  return templates;
}

const fill = (t: Template, values: Map<unknown, unknown>) => t.params.map((p) => (values.has(p) ? values.get(p) : p));

export default {
  async fetch(req: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/") return Response.json({ status: "ok" });
    const tenant = url.searchParams.get("tenant") ?? "";
    const t = sqlOf(env.DB);
    const session = env.DB.withSession("first-unconstrained");
    const fetchId = /^\/fetch\/([^/]+)$/.exec(url.pathname)?.[1];
    if (fetchId) {
      const [row] = await session.prepare(t.fetch.sql).bind(...fill(t.fetch, new Map([[TENANT, tenant], [RUN, fetchId]]))).raw();
      if (!row) return Response.json({ error: "not found" }, { status: 404 });
      return Response.json({ result: row });
    }
    if (url.pathname === "/list") {
      const now = Math.floor(Date.now() / 1000);
      const rows = await session.prepare(t.list.sql).bind(...fill(t.list, new Map<unknown, unknown>([[TENANT, tenant], [NOW, now]]))).raw();
      return Response.json(rows);
    }
    return new Response("GET / | /fetch/:run_id?tenant= | /list?tenant=", { status: 404 });
  },
} satisfies ExportedHandler<FloorEnv>;
