// The runtime floor of bench/ingest/run.mjs: a bench-only worker that runs in the same
// `wrangler dev` as ferry (a third config, bench/ingest/wrangler.floor.toml, reached through its
// route `*/__floor/*`) and does only what any Worker must do to store a /v1/actions batch: read
// the body, parse the JSON, turn each item into the row validateItems would make of it, and
// write the rows with the API's own statements (insertRecords: json_each chunks, one D1 batch)
// to the same local shard database. No auth, no rate limit, no D1 session, no validation, no
// idempotency: the API's figures minus these are the cost of ferry's code.
//   POST /__floor/actions/<shard>   -> 201, empty body
import { insertRecords } from "../../src/db/shards";
import { getModel } from "../../src/models";
import type { ModelDef } from "../../src/models";

type FloorEnv = Record<`DATA_${number}`, D1Database>;

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
    const m = /^\/__floor\/actions\/(\d+)$/.exec(new URL(req.url).pathname);
    const db = m ? env[`DATA_${Number(m[1])}`] : undefined;
    if (req.method !== "POST" || !db) return new Response("POST /__floor/actions/<shard>", { status: 404 });
    const body = JSON.parse(await req.text()) as { actions: Record<string, unknown>[] };
    await insertRecords({ tenantId: TENANT, db }, actions, body.actions.map(row), Math.floor(Date.now() / 1000));
    return new Response(null, { status: 201 });
  },
} satisfies ExportedHandler<FloorEnv>;
