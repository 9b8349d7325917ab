// Ingestion throughput: 1000-item batches POSTed to `npm run dev` (/v1/actions, the reference's
// item shape) by a few concurrent clients; events/s and batch latency p50/p99. Baseline in the
// same run: the same rows inserted into a SQLite file (node:sqlite, same schema and indexes,
// one transaction per 1000-row batch) — the floor of "just write them to disk".
// Targets: >= 100,000 events/s and p99 < 50 ms per batch.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { QUICK, ROOT, percentile, record, round, seedTenant, startDev } from "../lib/harness.mjs";

const BATCH = 1000;
const DURATION_MS = QUICK ? 3_000 : 20_000;
const CONCURRENCY = Number(process.env.INGEST_CONCURRENCY ?? 4);

function batch(seq) {
  return Array.from({ length: BATCH }, (_, i) => ({
    timestamp: "2019-01-01 15:04:05",
    user_id: String(1000 + ((seq * BATCH + i) % 5000)),
    action_id: "2002",
    action_name: "buy_item",
    action_params: [{ key: "item_id", value: String(3000 + (i % 100)) }],
  }));
}
const BODIES = Array.from({ length: 8 }, (_, s) => JSON.stringify({ actions: batch(s) }));

/** Runs `CONCURRENCY` clients for DURATION_MS; every response must be 201. */
async function load(url, apiKey, { idempotency = false } = {}) {
  const latencies = [];
  let n = 0;
  const until = performance.now() + DURATION_MS;
  const t0 = performance.now();
  async function client(id) {
    while (performance.now() < until) {
      const seq = n++;
      const headers = { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" };
      if (idempotency) headers["Idempotency-Key"] = `bench-${id}-${seq}-${t0}`;
      const start = performance.now();
      const r = await fetch(`${url}/v1/actions`, { method: "POST", headers, body: BODIES[seq % BODIES.length] });
      const text = await r.text();
      latencies.push(performance.now() - start);
      if (r.status !== 201) throw new Error(`POST /v1/actions: ${r.status} ${text.slice(0, 300)}`);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(i)));
  return summary(latencies, t0);
}

function summary(latencies, t0) {
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    batches: latencies.length,
    events_per_s: round((latencies.length * BATCH) / seconds, 0),
    p50: round(percentile(latencies, 50), 2),
    p99: round(percentile(latencies, 99), 2),
  };
}

/** The same rows into a SQLite file with the shard schema: one transaction per batch. */
function sqliteBaseline() {
  const dir = mkdtempSync(join(tmpdir(), "ferry-bench-sqlite-"));
  try {
    const db = new DatabaseSync(join(dir, "baseline.sqlite"));
    db.exec("PRAGMA journal_mode = WAL");
    const migrations = join(ROOT, "migrations", "data");
    for (const f of readdirSync(migrations).sort()) db.exec(readFileSync(join(migrations, f), "utf8"));
    const insert = db.prepare(
      "INSERT INTO actions (tenant_id, ingested_at, timestamp, user_id, action_id, action_name, action_params) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const latencies = [];
    const until = performance.now() + DURATION_MS;
    const t0 = performance.now();
    for (let seq = 0; performance.now() < until; seq++) {
      const start = performance.now();
      const items = JSON.parse(BODIES[seq % BODIES.length]).actions;
      const now = Math.floor(Date.now() / 1000);
      db.exec("BEGIN");
      for (const it of items) {
        const params = Object.fromEntries(it.action_params.map((p) => [p.key, p.value]));
        insert.run("ten_bench", now, it.timestamp, it.user_id, it.action_id, it.action_name, JSON.stringify(params));
      }
      db.exec("COMMIT");
      latencies.push(performance.now() - start);
    }
    const result = summary(latencies, t0);
    db.close();
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const dev = await startDev();
try {
  const seed = await seedTenant(dev.url, "bench-ingest");
  // warm-up: compile, fill the API-key cache, grow the tables a little
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${dev.url}/v1/actions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${seed.apiKey}`, "Content-Type": "application/json" },
      body: BODIES[i % BODIES.length],
    });
    await r.text();
    if (r.status !== 201) throw new Error(`warm-up: ${r.status}`);
  }
  const plain = await load(dev.url, seed.apiKey);
  const keyed = await load(dev.url, seed.apiKey, { idempotency: true });
  const base = sqliteBaseline();
  const rows = [
    {
      metric: `POST /v1/actions events/s (${BATCH}/batch, ${CONCURRENCY} clients)`,
      value: plain.events_per_s,
      unit: "events/s",
      baseline: `SQLite file ${base.events_per_s} events/s`,
      ratio: round(plain.events_per_s / base.events_per_s, 2),
      target: ">= 100,000 events/s",
      met: plain.events_per_s >= 100_000,
    },
    {
      metric: "POST /v1/actions batch latency p50 / p99",
      value: `${plain.p50} / ${plain.p99}`,
      unit: "ms",
      baseline: `SQLite file ${base.p50} / ${base.p99} ms`,
      target: "p99 < 50 ms",
      met: plain.p99 < 50,
    },
    {
      metric: "with Idempotency-Key: events/s",
      value: keyed.events_per_s,
      unit: "events/s",
    },
    {
      metric: "with Idempotency-Key: batch p50 / p99",
      value: `${keyed.p50} / ${keyed.p99}`,
      unit: "ms",
    },
  ];
  record("ingest", { batch: BATCH, concurrency: CONCURRENCY, duration_s: DURATION_MS / 1000, plain, keyed, sqlite: base, rows });
} finally {
  dev.stop();
}
