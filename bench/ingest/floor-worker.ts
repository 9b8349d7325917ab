// The runtime floor of bench/ingest/run.mjs: a bench-only worker under its own `wrangler dev`
// (bench/ingest/wrangler.floor.toml: the same wrangler, workerd and local D1 as the API's) that
// does only what any Worker must do to store a /v1/actions batch: read the body, parse the JSON,
// turn each item into the row validateItems makes of it, and write the rows with the API's own
// statements (insertRecords: json_each chunks, one D1 batch) to a shard database migrated like
// the API's. No auth, no rate limit, no D1 session, no validation, no idempotency: the API's
// figures minus these are the cost of ferry's code.
//   POST /actions   -> 201, empty body
import { insertRecords } from "../../src/db/shards";
import { getModel } from "../../src/models";
import type { ModelDef } from "../../src/models";

interface FloorEnv {
  DATA: D1Database;
}

const actions = getModel("actions") as ModelDef;
const TENANT = "ten_bench_floor";

/** An item as validateItems stores it for this body (every value already valid): cells in field order, params as an object. */
function row(item: Record<string, unknown>): unknown[] {
  return actions.fields.map((f) => {
    const v = item[f.name];
    if (f.type === "params" && Array.isArray(v)) return Object.fromEntries(v.map((p: { key: string; value: string }) => [p.key, p.value]));
    return v ?? null;
  });
}

export default {
  async fetch(req: Request, env: FloorEnv): Promise<Response> {
    if (req.method !== "POST" || new URL(req.url).pathname !== "/actions") return new Response("POST /actions", { status: 404 });
    const body = JSON.parse(await req.text()) as { actions: Record<string, unknown>[] };
    await insertRecords({ tenantId: TENANT, db: env.DATA }, actions, body.actions.map(row), Math.floor(Date.now() / 1000));
    return new Response(null, { status: 201 });
  },
} satisfies ExportedHandler<FloorEnv>;
