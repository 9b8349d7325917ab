// Ingestion throughput: 1000-item batches POSTed to `npm run dev` (/v1/actions, the reference's
// item shape) by a few concurrent clients; events/s and batch latency p50/p99. Two floors in the
// same run:
//  - the SQLite file floor: the same rows written into a SQLite file with the API's own
//    statements (bench/ingest/stages.ts: node:sqlite, WAL, one transaction per batch), for the
//    shard layout of before migrations/data/0004_append_only_events and after it;
//  - the runtime floor: a bench-only worker (bench/ingest/floor-worker.ts) under a `wrangler dev`
//    of its own beside the API's (same wrangler, workerd and local D1), that parses the same
//    body and writes the same rows with the same statements to a shard migrated like the API's,
//    with nothing else (no auth, validation, idempotency), loaded in turn with the API;
// so the gap SQLite file -> runtime -> ferry API splits into the local runtime's share and
// ferry's code's share, both measured. Then each stage of the request alone, in Node.
// Targets: the new layout's raw insert rate >= 3x the old one's; the API >= 0.8x its floor.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { QUICK, ROOT, actionBodies, loadAverage, percentile, postLoad, record, round, seedTenant, startDevAndWorker, treeCpuMs } from "../lib/harness.mjs";

const BATCH = 1000;
const DURATION_MS = QUICK ? 3_000 : 20_000;
const CONCURRENCY = Number(process.env.INGEST_CONCURRENCY ?? 4);

const BODIES = actionBodies(BATCH);

/**
 * Runs `CONCURRENCY` clients for DURATION_MS against the API (or, with `path`, the runtime
 * floor's worker); every response must be 201.
 */
async function load(url, apiKey, { idempotency = false, pid, path = "/v1/actions", durationMs = DURATION_MS, idleMsPerS = 0 } = {}) {
  // the floor's worker ignores the key
  const cpu0 = treeCpuMs(pid);
  const result = await postLoad({
    url: `${url}${path}`,
    bodies: BODIES,
    durationMs,
    concurrency: CONCURRENCY,
    status: 201,
    perBody: BATCH,
    headers: (id, seq, t0) => ({ Authorization: `Bearer ${apiKey}`, ...(idempotency ? { "Idempotency-Key": `bench-${id}-${seq}-${t0}` } : {}) }),
    raw: true,
  });
  const cpu = treeCpuMs(pid) - cpu0;
  return {
    ...result,
    server_cpu_ms_per_batch: round(cpu / result.batches, 1),
    // what the same tree burns doing nothing, over the same seconds, left out (idleCpu)
    net_cpu_ms_per_batch: round((cpu - idleMsPerS * result.seconds) / result.batches, 1),
  };
}

const IDLE_MS = QUICK ? 3_000 : 5_000;

/**
 * CPU ms per second that each server's process tree uses with no request: wrangler's node
 * process and its esbuild, which watches the worker's sources for changes, poll whether or not
 * requests come. The API's tree watches all of src/ and the floor's only what floor-worker.ts
 * imports, so the per-batch CPU of the two differs by this much before any request is served.
 */
async function idleCpu(pids) {
  const before = pids.map((pid) => treeCpuMs(pid));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const seconds = (performance.now() - t0) / 1000;
  return pids.map((pid, i) => round((treeCpuMs(pid) - (before[i] ?? 0)) / seconds, 1));
}

/** Two load runs of the same path as one: batches and events/s summed over time, latencies pooled. */
function merge(runs) {
  const lat = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const batches = runs.reduce((n, r) => n + r.batches, 0);
  const cpu = runs.reduce((n, r) => n + r.server_cpu_ms_per_batch * r.batches, 0);
  const net = runs.reduce((n, r) => n + r.net_cpu_ms_per_batch * r.batches, 0);
  return {
    batches,
    events_per_s: round((batches * BATCH) / seconds, 0),
    p50: round(percentile(lat, 50), 2),
    p99: round(percentile(lat, 99), 2),
    server_cpu_ms_per_batch: round(cpu / batches, 1),
    net_cpu_ms_per_batch: round(net / batches, 1),
  };
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
    const noCheckpoint = await m.floor(ROOT, join(dir, "new-no-checkpoint.sqlite"), "new", BODIES, FLOOR_BATCHES, "NORMAL", false);
    const noCheckpointLoad = loadAverage();
    const stages = await m.stages(ROOT, join(dir, "stages.sqlite"), BODIES, STAGE_BATCHES);
    const lat = (r) => {
      const sorted = [...r.lat].sort((a, b) => a - b);
      return { batches: r.batches, events_per_s: r.events_per_s, p50: round(percentile(sorted, 50), 2), p99: round(percentile(sorted, 99), 2), slow: r.slow };
    };
    return {
      old: { ...lat(old), load: oldLoad },
      new: { ...lat(now), load: nowLoad },
      oldSync: { ...lat(oldSync), load: syncLoad },
      newSync: { ...lat(nowSync), load: syncLoad },
      noCheckpoint: { ...lat(noCheckpoint), load: noCheckpointLoad },
      stages,
      stagesLoad: loadAverage(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// On a loaded machine applying the migrations and starting wrangler takes minutes.
// The API (and its jobs worker) as `npm run dev` runs them, and the runtime floor's worker
// (bench/ingest/floor-worker.ts, a shard database migrated like the API's) beside it.
const [dev, floorDev] = await startDevAndWorker(join(ROOT, "bench", "ingest", "wrangler.floor.toml"), { migrate: "DATA", timeoutMs: 600_000 });
try {
  const seed = await seedTenant(dev.url, "bench-ingest");
  const target = { api: { url: dev.url, path: "/v1/actions", pid: dev.pid }, floor: { url: floorDev.url, path: "/actions", pid: floorDev.pid } };
  // warm-up of both: compile, fill the API-key cache, grow the tables a little
  for (let i = 0; i < 10; i++) {
    for (const { url, path } of Object.values(target)) {
      const r = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${seed.apiKey}`, "Content-Type": "application/json" },
        body: BODIES[i % BODIES.length],
      });
      await r.text();
      if (r.status !== 201) throw new Error(`warm-up ${path}: ${r.status}`);
    }
  }
  const [apiIdle, floorIdle] = await idleCpu([dev.pid, floorDev.pid]);
  // The floor and the API in turn, half the time each twice (floor, API, floor, API), so that a
  // change in the machine's load during the run weighs on both alike.
  const halves = [];
  const half = DURATION_MS / 2;
  for (let i = 0; i < 2; i++) {
    halves.push({ floor: await load(floorDev.url, seed.apiKey, { ...target.floor, durationMs: half, idleMsPerS: floorIdle }), floorLoad: loadAverage() });
    Object.assign(halves[i], { plain: await load(dev.url, seed.apiKey, { pid: dev.pid, durationMs: half, idleMsPerS: apiIdle }), plainLoad: loadAverage() });
  }
  const runtime = merge(halves.map((h) => h.floor));
  const runtimeLoad = round((halves[0].floorLoad + halves[1].floorLoad) / 2, 2);
  const plain = merge(halves.map((h) => h.plain));
  const plainLoad = round((halves[0].plainLoad + halves[1].plainLoad) / 2, 2);
  const keyed = await load(dev.url, seed.apiKey, { idempotency: true, pid: dev.pid });
  const keyedLoad = loadAverage();
  const floor = await inProcess();
  const st = floor.stages;
  const ours = round(st.parse + st.validate + st.chunk, 2);
  const perThousand = (eps) => (1000 * 1000) / eps;
  const gap = {
    file: round(perThousand(floor.new.events_per_s), 2),
    runtime: round(perThousand(runtime.events_per_s) - perThousand(floor.new.events_per_s), 2),
    ferry: round(perThousand(plain.events_per_s) - perThousand(runtime.events_per_s), 2),
  };
  // Below zero: the API was as fast as the bare worker within this run's noise.
  gap.ferryShare = round((100 * gap.ferry) / (gap.runtime + gap.ferry), 1);
  const signed = (n) => (n < 0 ? `${n}` : `+${n}`);
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
      // The tail of the storage itself: with the automatic checkpoint, the slow batches are the
      // ones whose commit copied the write-ahead log into the file (every ~26th at 1000 rows).
      metric: "raw SQLite insert p50 / p99 without SQLite's automatic WAL checkpoint (wal_autocheckpoint = 0), layout after 0004; batches > 4x the median",
      value: `${floor.noCheckpoint.p50} / ${floor.noCheckpoint.p99}`,
      unit: "ms",
      baseline: `with it ${floor.new.p50} / ${floor.new.p99} ms; batches > 4x the median: ${floor.noCheckpoint.slow.length} without, ${floor.new.slow.length} with (${floor.new.slow.slice(0, 8).join(", ")}${floor.new.slow.length > 8 ? ", ..." : ""})`,
      load: floor.noCheckpoint.load,
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
      metric: `runtime floor: a bare worker under wrangler dev writes the same rows with the same statements (${BATCH}/batch, ${CONCURRENCY} clients)`,
      value: runtime.events_per_s,
      unit: "events/s",
      baseline: `floor (SQLite file, layout after 0004) ${floor.new.events_per_s} events/s`,
      ratio: round(runtime.events_per_s / floor.new.events_per_s, 2),
      load: runtimeLoad,
    },
    {
      metric: "runtime floor batch latency p50 / p99",
      value: `${runtime.p50} / ${runtime.p99}`,
      unit: "ms",
      baseline: `floor (SQLite file) ${floor.new.p50} / ${floor.new.p99} ms`,
      load: runtimeLoad,
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
      metric: "POST /v1/actions against the runtime floor (the same run, alternating)",
      value: plain.events_per_s,
      unit: "events/s",
      baseline: `runtime floor ${runtime.events_per_s} events/s`,
      ratio: round(plain.events_per_s / runtime.events_per_s, 2),
      load: plainLoad,
    },
    {
      // Time per 1000 events at each level's throughput: SQLite file -> runtime -> API. The
      // runtime's share is what the local runtime (wrangler's proxy, workerd, local D1) adds to
      // the file; ferry's share is what the API adds to a bare worker doing the same write.
      metric: "where the gap to the SQLite floor goes, ms per 1000 events: SQLite file / + runtime / + ferry's code (ferry's share of the gap)",
      value: `${gap.file} / ${signed(gap.runtime)} / ${signed(gap.ferry)} (${gap.ferryShare}%)`,
      unit: "ms",
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
      baseline: `runtime floor ${runtime.server_cpu_ms_per_batch} ms; our stages in Node ${round(ours + st.write, 2)} ms (parse + validate + chunk + write)`,
      load: plainLoad,
    },
    {
      metric: "server CPU per 1000-event batch, less what each server's tree uses idle (wrangler and esbuild watching the sources)",
      value: plain.net_cpu_ms_per_batch,
      unit: "ms",
      baseline: `runtime floor ${runtime.net_cpu_ms_per_batch} ms; idle: API tree ${apiIdle} ms/s, floor tree ${floorIdle} ms/s`,
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
  const { latencies: _l, seconds: _s, ...keyedSummary } = keyed;
  record("ingest", { batch: BATCH, concurrency: CONCURRENCY, duration_s: DURATION_MS / 1000, idle_cpu_ms_per_s: { api: apiIdle, floor: floorIdle }, runtime, plain, keyed: keyedSummary, floor, gap, rows });
} finally {
  dev.stop();
  floorDev.stop();
}
