// Export: a CSV export of N participations through the real chain (`npm run dev`: workerd,
// local D1 shard, local queue, local R2 multipart), timed from `POST /runs` to `finished`,
// next to `sqlite3 -csv` writing the same rows from a SQLite file in the same run.
// Also the dev server's peak resident memory during each run (it must not grow with rows), next to
// the runtime floor's: a bare worker (bench/export/floor-worker.ts) under its own `wrangler dev`,
// started beside the dev server, that reads the same rows from a local D1 seeded the same way with
// the same statement (10,000-row keyset chunks), writes them plainly as the same CSV bytes in the
// same 5 MiB parts to a local R2 multipart upload and completes it: the local runtime's work of
// the export with ferry's logic removed. Both servers run every size in turn, one process each for
// all sizes, so workerd's growth 100k -> 1M rows splits into the runtime's (the floor's) and
// ferry's own (the dev server's minus the floor's).
// Targets: at least 50% of sqlite3's rows/s (issue: 0.5x at 1M rows); ferry's own workerd growth
// 100k -> 1M < 64 MiB (issue 15); /health on the same server during the export. Sizes: 100k and
// 1M rows (`--quick`: 20k, the floor too).
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLUMNS, seedSql } from "./seed.mjs";
import { QUICK, ROOT, record, round, seedTenant, startDevAndWorker, treeAnonKb, treeRssKb, watchPeakRss, workerdAnonKb } from "../lib/harness.mjs";

const SIZES = QUICK ? [20_000] : [100_000, 1_000_000];
const env = { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CI: "true" };

/** Calls GET /health one after another until stopped; answers p50 / p99 / max in ms. */
function probeHealth(url) {
  const times = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const r = await fetch(`${url}/health`);
      await r.arrayBuffer();
      times.push(performance.now() - t);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      times.sort((a, b) => a - b);
      const at = (q) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0, 0);
      return { n: times.length, p50: at(0.5), p99: at(0.99), max: round(times[times.length - 1] ?? 0, 0) };
    },
  };
}

async function api(url, method, path, token, body, retry = true) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err) => {
    // A keep-alive connection the server closed while we were seeding: the request never
    // reached it, so sending it again on a new connection is safe.
    if (retry && ["UND_ERR_SOCKET", "EPIPE", "ECONNRESET"].includes(err.cause?.code)) return null;
    throw new Error(`${method} ${path}: ${err.cause?.code ?? err.message}`);
  });
  if (r === null) return api(url, method, path, token, body, false);
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Peak anonymous RSS (kB) of a server's tree and of its workerd, sampled every 50 ms until stopped. */
function watchPeakAnon(pid) {
  let tree = treeAnonKb(pid);
  let workerd = workerdAnonKb(pid);
  const t = setInterval(() => {
    tree = Math.max(tree, treeAnonKb(pid));
    workerd = Math.max(workerd, workerdAnonKb(pid));
  }, 50);
  return { stop: () => (clearInterval(t), { tree, workerd }) };
}

/** Seeds `n` rows for `tenantId` into a local D1 file (`wrangler d1 execute --local`), not timed. */
function seed(binding, state, tenantId, n, config = []) {
  return new Promise((resolve, reject) => {
    const p = spawn("wrangler", ["d1", "execute", binding, "--local", "--persist-to", state, ...config, "--command", seedSql(tenantId, n)], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`seeding ${binding} failed: ${err}`))));
  });
}

/**
 * One export of the runtime floor (floor-worker.ts) of the rows seeded for `tenantId`, with its
 * server's memory meanwhile; its file must be ferry's, byte for byte (`run`: ferry's run of the
 * same rows).
 */
async function floorExport(definition, tenantId, n, run, attempt) {
  const key = `floor/${tenantId}/${attempt}.csv`;
  const watch = watchPeakAnon(floor.pid);
  const t0 = performance.now();
  const r = await fetch(`${floor.url}/export?tenant=${tenantId}&key=${key}`, { method: "POST", body: JSON.stringify(definition) });
  const out = await r.json().catch(() => null);
  const exportS = (performance.now() - t0) / 1000;
  const peak = watch.stop();
  if (!r.ok || !out) throw new Error(`runtime floor export: ${r.status} ${JSON.stringify(out)}`);
  if (out.rows !== n) throw new Error(`runtime floor exported ${out.rows} rows, expected ${n}`);
  const file = Buffer.from(await (await fetch(`${floor.url}/file?key=${key}`)).arrayBuffer());
  if (file.length !== run.bytes || createHash("sha256").update(file).digest("hex") !== run.sha256) {
    throw new Error(`the runtime floor's file (${file.length} B) is not ferry's (${run.bytes} B)`);
  }
  return { exportS, peakAnonKb: peak.tree, peakWorkerdKb: peak.workerd, parts: out.parts, chunks: out.chunks };
}

/** One run of an export, POST /runs to finished, with the dev server's memory and /health meanwhile; the file is checked. */
async function timedExport(exp, token, n) {
  const rssBefore = treeRssKb(dev.pid);
  const watch = watchPeakRss(dev.pid, 50);
  const anon = watchPeakAnon(dev.pid);
  // /health on the same dev server while the export runs: the API worker must not wait behind
  // the jobs worker's steps (docs/architecture.md, "Two workers").
  const health = probeHealth(dev.url);
  const t0 = performance.now();
  const started = await api(dev.url, "POST", `/api/1/exports/${exp.id}/runs`, token);
  let run;
  for (;;) {
    run = await api(dev.url, "GET", `/api/1/exports/${exp.id}/runs/${started.id}`, token);
    if (run.status === "finished" || run.status === "failed") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const exportS = (performance.now() - t0) / 1000;
  const healthMs = await health.stop();
  const peakKb = watch.stop();
  const { tree: peakAnonKb, workerd: peakWorkerdKb } = anon.stop();
  if (run.status !== "finished") throw new Error(`run failed: ${run.error}`);
  if (run.rows !== n) throw new Error(`run wrote ${run.rows} rows, expected ${n}`);

  // Check the file: download through the signed link, sha256 and line count.
  const file = Buffer.from(await (await fetch(run.download_url)).arrayBuffer());
  const sha = createHash("sha256").update(file).digest("hex");
  if (sha !== run.sha256 || file.length !== run.bytes) throw new Error("downloaded file does not match the run's sha256/bytes");
  let lines = 0;
  for (const b of file) if (b === 10) lines++;
  if (lines !== n + 1) throw new Error(`file has ${lines} lines, expected ${n + 1}`);
  return { exportS, peakKb, peakAnonKb, peakWorkerdKb, rssBefore, health: healthMs, run };
}

// migrations + wrangler start can take minutes on a loaded machine
const FLOOR_CONFIG = join(ROOT, "bench", "export", "wrangler.floor.toml");
const [dev, floor] = await startDevAndWorker(FLOOR_CONFIG, { migrate: "DATA", timeoutMs: 600_000, log: process.env.BENCH_LOG === "1" });
const work = mkdtempSync(join(tmpdir(), "ferry-bench-export-"));
try {
  const baseRss = treeRssKb(dev.pid);
  const baseAnon = treeAnonKb(dev.pid);
  const baseWorkerd = workerdAnonKb(dev.pid);
  const floorBaseWorkerd = workerdAnonKb(floor.pid);
  const results = [];
  for (const n of SIZES) {
    const { tenant, token } = await seedTenant(dev.url, `bench-export-${n}`);
    const tenants = await fetch(`${dev.url}/api/1/admin/tenants`, { headers: { Authorization: "Bearer dev-admin-token" } }).then((r) => r.json());
    const shard = tenants.tenants.find((t) => t.id === tenant.id).shard;

    // Seed straight into the dev server's local D1 file for the tenant's shard, and the same rows
    // into the floor's (not timed). The floor's tenant id has the same length as ferry's.
    const floorTenant = `ten_floor_${String(n).padStart(tenant.id.length - 10, "0")}`;
    await Promise.all([seed(`DATA_${shard}`, dev.state, tenant.id, n), seed("DATA", floor.state, floorTenant, n, ["-c", FLOOR_CONFIG])]);
    console.log(`seeded ${n} rows for ${tenant.id} on shard ${shard} and for ${floorTenant} on the runtime floor`);

    // Baseline: the same rows and index in a plain SQLite file, exported by sqlite3 -csv.
    const db = join(work, `baseline-${n}.sqlite`);
    const ddl = readFileSync(join(ROOT, "migrations", "data", "0001_models.sql"), "utf8");
    const table = /CREATE TABLE participations[\s\S]*?\);\s*(CREATE INDEX participations[^;]*;\s*)*/.exec(ddl)[0];
    execFileSync("sqlite3", [db], { input: `${table}\n${seedSql(tenant.id, n)}` });
    const csvOut = join(work, `baseline-${n}.csv`);
    const query = `SELECT ${COLUMNS.join(", ")} FROM participations WHERE tenant_id = '${tenant.id}' ORDER BY participation_date, row_id;`;
    const s0 = performance.now();
    execFileSync("sh", ["-c", `sqlite3 -csv -header '${db}' "${query}" > '${csvOut}'`]);
    const sqliteS = (performance.now() - s0) / 1000;
    const sqliteBytes = statSync(csvOut).size;

    // The export through the real chain. Schedule `manual`: a definition without a schedule
    // (`now`) starts a run as it is created, and that run would be exported ahead of the timed one.
    const definition = {
      name: `bench-${n}`,
      model: "participations",
      fields: COLUMNS.map((from) => ({ from })),
      format: { type: "csv" },
      schedule: { type: "manual" },
    };
    const exp = await api(dev.url, "POST", "/api/1/exports", token, definition);
    const first = await timedExport(exp, token, n);
    const floorFirst = await floorExport(definition, floorTenant, n, first.run, 1);
    // The largest size once more, same servers and rows: a peak that grows again is a leak, one
    // that does not is a high-water mark (bench/README.md, "Export memory").
    const last = n === SIZES[SIZES.length - 1] && !QUICK;
    const again = last ? await timedExport(exp, token, n) : null;
    const floorAgain = last ? await floorExport(definition, floorTenant, n, first.run, 2) : null;
    const { exportS, peakKb, peakAnonKb, peakWorkerdKb, rssBefore, health: healthMs, run } = first;

    results.push({ n, exportS, sqliteS, bytes: run.bytes, sqliteBytes, peakKb, peakAnonKb, peakWorkerdKb, rssBefore, health: healthMs, again, floor: floorFirst, floorAgain });
    console.log(
      `export ${n} rows: ferry ${round(exportS, 2)} s (${run.bytes} B), sqlite3 ${round(sqliteS, 2)} s (${sqliteBytes} B), peak RSS ${round(peakKb / 1024)} MiB (before ${round(rssBefore / 1024)} MiB), peak anonymous ${round(peakAnonKb / 1024)} MiB (workerd ${round(peakWorkerdKb / 1024)} MiB)${again ? `; again: peak anonymous ${round(again.peakAnonKb / 1024)} MiB (workerd ${round(again.peakWorkerdKb / 1024)} MiB)` : ""}`,
    );
    console.log(
      `runtime floor ${n} rows: ${round(floorFirst.exportS, 2)} s, ${floorFirst.parts} parts, workerd peak anonymous ${round(floorFirst.peakWorkerdKb / 1024)} MiB${floorAgain ? `; again: ${round(floorAgain.peakWorkerdKb / 1024)} MiB` : ""}`,
    );
  }

  const rows = [];
  for (const r of results) {
    const label = r.n >= 1_000_000 ? `${r.n / 1_000_000}M` : `${r.n / 1000}k`;
    const ferryRps = r.n / r.exportS;
    const sqliteRps = r.n / r.sqliteS;
    const ratio = round(ferryRps / sqliteRps, 2);
    rows.push(
      {
        metric: `csv ${label} rows: rows/s`,
        value: Math.round(ferryRps),
        unit: "rows/s",
        baseline: `sqlite3 -csv ${Math.round(sqliteRps)} rows/s`,
        ratio,
        target: ">= 0.5x sqlite3",
        met: ratio >= 0.5,
      },
      {
        metric: `csv ${label} rows: MB/s`,
        value: round(r.bytes / 1e6 / r.exportS, 2),
        unit: "MB/s",
        baseline: `sqlite3 -csv ${round(r.sqliteBytes / 1e6 / r.sqliteS, 2)} MB/s`,
      },
      { metric: `csv ${label} rows: time POST -> finished`, value: round(r.exportS, 2), unit: "s", baseline: `sqlite3 ${round(r.sqliteS, 2)} s` },
      { metric: `csv ${label} rows: dev server peak RSS`, value: round(r.peakKb / 1024), unit: "MiB", baseline: `idle ${round(baseRss / 1024)} MiB` },
      { metric: `csv ${label} rows: dev server peak anonymous RSS`, value: round(r.peakAnonKb / 1024), unit: "MiB", baseline: `idle ${round(baseAnon / 1024)} MiB` },
      { metric: `csv ${label} rows: workerd peak anonymous RSS`, value: round(r.peakWorkerdKb / 1024), unit: "MiB", baseline: `idle ${round(baseWorkerd / 1024)} MiB` },
      {
        metric: `csv ${label} rows: runtime floor (bare worker, same reads and parts): time / workerd peak anonymous RSS`,
        value: `${round(r.floor.exportS, 2)} s / ${round(r.floor.peakWorkerdKb / 1024)} MiB`,
        baseline: `idle ${round(floorBaseWorkerd / 1024)} MiB; ${r.floor.chunks} reads, ${r.floor.parts} parts, the same file as ferry's`,
      },
      {
        metric: `csv ${label} rows: GET /health during the export p50 / p99 / max`,
        value: `${r.health.p50} / ${r.health.p99} / ${r.health.max}`,
        unit: "ms",
        baseline: `${r.health.n} sequential calls`,
      },
    );
  }
  if (results.length > 1) {
    const [a, b] = [results[0], results[results.length - 1]];
    const growth = round((b.peakKb - a.peakKb) / 1024);
    const anonGrowth = round((b.peakAnonKb - a.peakAnonKb) / 1024);
    const workerdGrowth = round((b.peakWorkerdKb - a.peakWorkerdKb) / 1024);
    const floorGrowth = round((b.floor.peakWorkerdKb - a.floor.peakWorkerdKb) / 1024);
    const ownGrowth = round(workerdGrowth - floorGrowth);
    rows.push(
      { metric: `peak RSS growth ${a.n} -> ${b.n} rows`, value: growth, unit: "MiB" },
      {
        // The tree's figure holds wrangler's node and esbuild too, and the local D1's and R2's
        // memory inside workerd: the target is decided by ferry's own growth (below).
        metric: `peak anonymous RSS growth ${a.n} -> ${b.n} rows`,
        value: anonGrowth,
        unit: "MiB",
        target: "flat (< 64 MiB growth for 10x rows), decided by ferry's own growth (workerd's minus the runtime floor's)",
        met: ownGrowth < 64,
      },
      { metric: `workerd peak anonymous RSS growth ${a.n} -> ${b.n} rows`, value: workerdGrowth, unit: "MiB" },
      {
        metric: `runtime floor: workerd peak anonymous RSS growth ${a.n} -> ${b.n} rows (local D1 reads and R2 parts, no ferry code)`,
        value: floorGrowth,
        unit: "MiB",
        baseline: `${round(a.floor.peakWorkerdKb / 1024)} -> ${round(b.floor.peakWorkerdKb / 1024)} MiB`,
      },
      {
        metric: `ferry's own growth ${a.n} -> ${b.n} rows (workerd growth minus the runtime floor's)`,
        value: ownGrowth,
        unit: "MiB",
        baseline: `workerd ${workerdGrowth} MiB - floor ${floorGrowth} MiB`,
        target: "< 64 MiB",
        met: ownGrowth < 64,
      },
    );
    if (b.again) {
      rows.push({
        metric: `the ${b.n}-row export again on the same server: peak anonymous RSS growth over the first (tree / workerd / runtime floor's workerd)`,
        value: `${round((b.again.peakAnonKb - b.peakAnonKb) / 1024)} / ${round((b.again.peakWorkerdKb - b.peakWorkerdKb) / 1024)} / ${round((b.floorAgain.peakWorkerdKb - b.floor.peakWorkerdKb) / 1024)}`,
        unit: "MiB",
        baseline: `${round(b.again.exportS, 2)} s; floor ${round(b.floorAgain.exportS, 2)} s`,
      });
    }
  }
  record("export", { sizes: SIZES, results, rows });
} finally {
  dev.stop();
  floor.stop();
  rmSync(work, { recursive: true, force: true });
}
