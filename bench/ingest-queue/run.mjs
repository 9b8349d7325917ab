// Writing in the request vs accepting into a queue (docs/ingestion.md, "Why the write is in the
// request"): a bench-only worker (worker.ts, same validation and insert statements as
// POST /v1/actions, no auth or idempotency) under `wrangler dev`, 4 clients x 1000-item batches
// for 20 s (3 s quick) per path: `/direct` answers after the D1 batch, `/queued` after
// `sendBatch` to a local queue whose consumer writes each delivered batch in one D1 batch. Then how
// long the queue takes to land everything it accepted (the delay before an export can see it).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QUICK, ROOT, actionBodies, freePort, loadAverage, postLoad, record, round } from "../lib/harness.mjs";

const DURATION_MS = QUICK ? 3_000 : 20_000;
const CONCURRENCY = Number(process.env.INGEST_CONCURRENCY ?? 4);
const BODIES = actionBodies(1000);
const CONFIG = join(ROOT, "bench", "ingest-queue", "wrangler.toml");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

const state = mkdtempSync(join(tmpdir(), "ferry-bench-queue-"));
const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
const applied = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DATA", "--local", "--persist-to", state, "-c", CONFIG], { env, encoding: "utf8" });
if (applied.status !== 0) throw new Error(`migrations: ${applied.stderr}`);

const port = await freePort();
const child = spawn(WRANGLER, ["dev", "-c", CONFIG, "--port", String(port), "--persist-to", state, "--log-level", "error", "--show-interactive-dev-session=false"], {
  cwd: ROOT,
  detached: true,
  stdio: "ignore",
  env,
});
const url = `http://127.0.0.1:${port}`;
const count = async () => (await (await fetch(`${url}/count`)).json()).rows;
try {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await count();
      break;
    } catch {}
    if (Date.now() > deadline) throw new Error("the bench worker did not start within 180 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  const run = (path, status) => postLoad({ url: `${url}${path}`, bodies: BODIES, durationMs: DURATION_MS, concurrency: CONCURRENCY, status });
  // warm-up of both paths
  for (const [path, status] of [["/direct", 201], ["/queued", 202]]) {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${url}${path}`, { method: "POST", body: BODIES[i], headers: { "Content-Type": "application/json" } });
      await r.text();
      if (r.status !== status) throw new Error(`warm-up ${path}: ${r.status}`);
    }
  }
  const direct = await run("/direct", 201);
  const directLoad = loadAverage();
  // The warm-up's queued batches land first (their consumer batch times out after 1 s).
  for (let t = Date.now(); (await count()) < (4 + 4 + direct.batches) * 1000 && Date.now() - t < 30_000; ) await new Promise((r) => setTimeout(r, 200));
  const before = await count();
  const queued = await run("/queued", 202);
  const queuedLoad = loadAverage();
  const accepted = queued.batches * 1000;
  const landedAtEnd = (await count()) - before;
  // Everything accepted lands (at most 2 minutes to wait).
  const t0 = performance.now();
  let landed = landedAtEnd;
  while (landed < accepted && performance.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 200));
    landed = (await count()) - before;
  }
  const drain_s = landed >= accepted ? round((performance.now() - t0) / 1000, 1) : `not all within 120 s (${landed})`;
  record("ingest-queue", {
    duration_s: DURATION_MS / 1000,
    concurrency: CONCURRENCY,
    direct,
    queued,
    accepted,
    landed_at_end: landedAtEnd,
    drain_s,
    rows: [
      {
        metric: "validate + queue send: batch latency p50 / p99",
        value: `${queued.p50} / ${queued.p99}`,
        unit: "ms",
        baseline: `validate + D1 write ${direct.p50} / ${direct.p99} ms`,
        ratio: round(queued.p99 / direct.p99, 2),
        load: queuedLoad,
      },
      {
        metric: "validate + queue send: events/s accepted",
        value: queued.events_per_s,
        unit: "events/s",
        baseline: `validate + D1 write ${direct.events_per_s} events/s`,
        ratio: round(queued.events_per_s / direct.events_per_s, 2),
        load: directLoad,
      },
      {
        metric: "queued: events in D1 when the load stopped / accepted; then time until all landed",
        value: `${landedAtEnd} / ${accepted}; ${drain_s}`,
        unit: "s",
        load: queuedLoad,
      },
    ],
  });
} finally {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
  rmSync(state, { recursive: true, force: true });
}
