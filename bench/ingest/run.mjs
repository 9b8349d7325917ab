// Ingestion throughput: 1000-item batches POSTed to `npm run dev` (/v1/actions, the reference's
// item shape) by a few concurrent clients; events/s and batch latency p50/p99. The floor in the
// same run: the same rows written into a SQLite file with the API's own statements (bench/ingest/
// stages.ts: node:sqlite, WAL, one transaction per batch), for the shard layout of before
// migrations/data/0004_append_only_events and after it; then each stage of the request alone.
// Targets: the new layout's raw insert rate >= 3x the old one's; the API >= 0.8x its floor.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { QUICK, ROOT, actionBodies, loadAverage, percentile, postLoad, record, round, seedTenant, startDev } from "../lib/harness.mjs";

const BATCH = 1000;
const DURATION_MS = QUICK ? 3_000 : 20_000;
const CONCURRENCY = Number(process.env.INGEST_CONCURRENCY ?? 4);

const BODIES = actionBodies(BATCH);

/**
 * CPU time (ms) used so far by a process and its descendants (wrangler, workerd), from /proc:
 * the server's cost per batch, whatever else the machine is running.
 */
function treeCpuMs(rootPid) {
  const children = new Map();
  const cpu = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpu.set(Number(d), ((Number(f[11]) + Number(f[12])) * 1000) / 100);
      if (!children.has(Number(f[1]))) children.set(Number(f[1]), []);
      children.get(Number(f[1])).push(Number(d));
    } catch {}
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Runs `CONCURRENCY` clients for DURATION_MS; every response must be 201. */
async function load(url, apiKey, { idempotency = false, pid } = {}) {
  const cpu0 = treeCpuMs(pid);
  const result = await postLoad({
    url: `${url}/v1/actions`,
    bodies: BODIES,
    durationMs: DURATION_MS,
    concurrency: CONCURRENCY,
    status: 201,
    perBody: BATCH,
    headers: (id, seq, t0) => ({ Authorization: `Bearer ${apiKey}`, ...(idempotency ? { "Idempotency-Key": `bench-${id}-${seq}-${t0}` } : {}) }),
  });
  return { ...result, server_cpu_ms_per_batch: round((treeCpuMs(pid) - cpu0) / result.batches, 1) };
}

const FLOOR_BATCHES = QUICK ? 40 : 400;
const STAGE_BATCHES = QUICK ? 20 : 200;

/** The floor of both layouts and the stages, in this process (bench/ingest/stages.ts, bundled). */
async function inProcess() {
  const out = join(ROOT, ".wrangler", "bench", "ingest-stages.mjs");
  mkdirSync(join(ROOT, ".wrangler", "bench"), { recursive: true });
  await build({ entryPoints: [join(ROOT, "bench", "ingest", "stages.ts")], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "error" });
  const m = await import(pathToFileURL(out).href);
  const dir = mkdtempSync(join(tmpdir(), "ferry-bench-sqlite-"));
  try {
    const old = await m.floor(ROOT, join(dir, "old.sqlite"), "old", BODIES, FLOOR_BATCHES);
    const oldLoad = loadAverage();
    const now = await m.floor(ROOT, join(dir, "new.sqlite"), "new", BODIES, FLOOR_BATCHES);
    const nowLoad = loadAverage();
    const oldSync = await m.floor(ROOT, join(dir, "old-sync.sqlite"), "old", BODIES, FLOOR_BATCHES, "FULL");
    const nowSync = await m.floor(ROOT, join(dir, "new-sync.sqlite"), "new", BODIES, FLOOR_BATCHES, "FULL");
    const syncLoad = loadAverage();
    const stages = await m.stages(ROOT, join(dir, "stages.sqlite"), BODIES, STAGE_BATCHES);
    const lat = (r) => {
      const sorted = [...r.lat].sort((a, b) => a - b);
      return { batches: r.batches, events_per_s: r.events_per_s, p50: round(percentile(sorted, 50), 2), p99: round(percentile(sorted, 99), 2) };
    };
    return {
      old: { ...lat(old), load: oldLoad },
      new: { ...lat(now), load: nowLoad },
      oldSync: { ...lat(oldSync), load: syncLoad },
      newSync: { ...lat(nowSync), load: syncLoad },
      stages,
      stagesLoad: loadAverage(),
    };
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
  const plain = await load(dev.url, seed.apiKey, { pid: dev.pid });
  const plainLoad = loadAverage();
  const keyed = await load(dev.url, seed.apiKey, { idempotency: true, pid: dev.pid });
  const keyedLoad = loadAverage();
  const floor = await inProcess();
  const st = floor.stages;
  const ours = round(st.parse + st.validate + st.chunk, 2);
  const rows = [
    {
      metric: `raw SQLite insert (WAL, synchronous = NORMAL), layout after 0004 (${FLOOR_BATCHES} batches of ${BATCH}, the API's statements)`,
      value: floor.new.events_per_s,
      unit: "events/s",
      baseline: `layout before 0004 ${floor.old.events_per_s} events/s`,
      ratio: round(floor.new.events_per_s / floor.old.events_per_s, 2),
      target: ">= 3x the old layout",
      met: floor.new.events_per_s >= 3 * floor.old.events_per_s,
      load: floor.new.load,
    },
    {
      metric: "raw SQLite insert batch p50 / p99, layout after 0004",
      value: `${floor.new.p50} / ${floor.new.p99}`,
      unit: "ms",
      baseline: `layout before 0004 ${floor.old.p50} / ${floor.old.p99} ms`,
      load: floor.old.load,
    },
    {
      metric: "raw SQLite insert with an fsync per commit (synchronous = FULL), layout after 0004",
      value: floor.newSync.events_per_s,
      unit: "events/s",
      baseline: `layout before 0004 ${floor.oldSync.events_per_s} events/s`,
      ratio: round(floor.newSync.events_per_s / floor.oldSync.events_per_s, 2),
      load: floor.newSync.load,
    },
    {
      metric: `POST /v1/actions events/s (${BATCH}/batch, ${CONCURRENCY} clients)`,
      value: plain.events_per_s,
      unit: "events/s",
      baseline: `floor (SQLite file, layout after 0004) ${floor.new.events_per_s} events/s`,
      ratio: round(plain.events_per_s / floor.new.events_per_s, 2),
      target: ">= 0.8x the floor",
      met: plain.events_per_s >= 0.8 * floor.new.events_per_s,
      load: plainLoad,
    },
    {
      metric: "POST /v1/actions batch latency p50 / p99",
      value: `${plain.p50} / ${plain.p99}`,
      unit: "ms",
      baseline: `floor ${floor.new.p50} / ${floor.new.p99} ms`,
      target: "p99 < 50 ms",
      met: plain.p99 < 50,
      load: plainLoad,
    },
    {
      metric: "server CPU per 1000-event batch (wrangler + workerd)",
      value: plain.server_cpu_ms_per_batch,
      unit: "ms",
      baseline: `our stages in Node ${round(ours + st.write, 2)} ms (parse + validate + chunk + write)`,
      load: plainLoad,
    },
    {
      metric: "stages in Node, ms per batch (median): parse / validate / chunk / key fingerprint / D1 write (rows + key)",
      value: `${st.parse} / ${st.validate} / ${st.chunk} / ${st.fingerprint} / ${st.write}`,
      unit: "ms",
      load: floor.stagesLoad,
    },
    {
      metric: "machine load during the run (1-min load average)",
      value: `${plainLoad} on ${cpus().length} cores`,
      load: plainLoad,
    },
    {
      metric: "with Idempotency-Key: events/s",
      value: keyed.events_per_s,
      unit: "events/s",
      load: keyedLoad,
    },
    {
      metric: "with Idempotency-Key: batch p50 / p99",
      value: `${keyed.p50} / ${keyed.p99}`,
      unit: "ms",
      load: keyedLoad,
    },
  ];
  record("ingest", { batch: BATCH, concurrency: CONCURRENCY, duration_s: DURATION_MS / 1000, plain, keyed, floor, rows });
} finally {
  dev.stop();
}
