// Bench-only worker for bench/ingest-queue/run.mjs: `POST /direct` validates a /v1/actions body and
// writes it to D1 before answering (what ferry does); `POST /queued` validates it and answers once
// the rows are sent to a queue, whose consumer writes each delivered batch to D1 in one D1 batch
// (the Segment / Mixpanel shape). `GET /count` answers the rows written. Same validation and
// insert statements as the API (src/ingest/batch); no auth, no idempotency.
import { chunkRows, insertSql } from "../../src/db/shards";
import { validateItems } from "../../src/ingest/batch";
import { getModel } from "../../src/models";
import type { ModelDef } from "../../src/models";

interface BenchEnv {
  DATA: D1Database;
  INGEST: Queue<string>;
}

const actions = getModel("actions") as ModelDef;
const TENANT = "ten_bench";

export default {
  async fetch(req: Request, env: BenchEnv): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === "/count") {
      const r = await env.DATA.prepare("SELECT count(*) AS n FROM actions").first<{ n: number }>();
      return Response.json({ rows: r?.n ?? 0 });
    }
    const body = (await req.json()) as { actions: unknown[] };
    const v = validateItems(actions, body.actions, { now: new Date() });
    if (!v.ok) return Response.json(v.errors.slice(0, 3), { status: 400 });
    // Chunks of at most 90 KB: under D1's 100 KB per statement and the queue's 128 KB per message.
    // https://developers.cloudflare.com/queues/platform/limits/
    const chunks = chunkRows(v.rows);
    if (path === "/direct") {
      const stmt = env.DATA.prepare(insertSql(actions));
      const now = Math.floor(Date.now() / 1000);
      await env.DATA.batch(chunks.map((json) => stmt.bind(TENANT, now, json)));
      return new Response(null, { status: 201 });
    }
    if (path === "/queued") {
      await env.INGEST.sendBatch(chunks.map((body) => ({ body })));
      return new Response(null, { status: 202 });
    }
    return new Response("not found", { status: 404 });
  },

  async queue(batch: MessageBatch<string>, env: BenchEnv): Promise<void> {
    const stmt = env.DATA.prepare(insertSql(actions));
    const now = Math.floor(Date.now() / 1000);
    await env.DATA.batch(batch.messages.map((m) => stmt.bind(TENANT, now, m.body)));
    batch.ackAll();
  },
} satisfies ExportedHandler<BenchEnv, string>;
