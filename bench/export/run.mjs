// Export: a CSV export of N participations through the real chain (`npm run dev`: workerd,
// local D1 shard, local queue, local R2 multipart), timed from `POST /runs` to `finished`,
// next to `sqlite3 -csv` writing the same rows from a SQLite file in the same run.
// Also the dev server's peak resident memory during each run (it must not grow with rows).
// Target: at least 50% of sqlite3's rows/s (issue: 0.5x at 1M rows); /health on the same server during the export. Sizes: 100k and 1M rows (`--quick`: 20k).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLUMNS, seedSql } from "./seed.mjs";
import { QUICK, ROOT, record, round, seedTenant, startDev, treeAnonKb, treeRssKb, watchPeakRss, workerdAnonKb } from "../lib/harness.mjs";

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

/** One run of an export, POST /runs to finished, with the dev server's memory and /health meanwhile; the file is checked. */
async function timedExport(exp, token, n) {
  const rssBefore = treeRssKb(dev.pid);
  const watch = watchPeakRss(dev.pid, 50);
  let peakAnonKb = treeAnonKb(dev.pid);
  let peakWorkerdKb = workerdAnonKb(dev.pid);
  const anonTimer = setInterval(() => {
    peakAnonKb = Math.max(peakAnonKb, treeAnonKb(dev.pid));
    peakWorkerdKb = Math.max(peakWorkerdKb, workerdAnonKb(dev.pid));
  }, 50);
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
  clearInterval(anonTimer);
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
const dev = await startDev({ log: process.env.BENCH_LOG === "1", timeoutMs: 600_000 });
const work = mkdtempSync(join(tmpdir(), "ferry-bench-export-"));
try {
  const baseRss = treeRssKb(dev.pid);
  const baseAnon = treeAnonKb(dev.pid);
  const baseWorkerd = workerdAnonKb(dev.pid);
  const results = [];
  for (const n of SIZES) {
    const { tenant, token } = await seedTenant(dev.url, `bench-export-${n}`);
    const tenants = await fetch(`${dev.url}/api/1/admin/tenants`, { headers: { Authorization: "Bearer dev-admin-token" } }).then((r) => r.json());
    const shard = tenants.tenants.find((t) => t.id === tenant.id).shard;

    // Seed straight into the dev server's local D1 file for the tenant's shard (not timed).
    const seeded = spawnSync("wrangler", ["d1", "execute", `DATA_${shard}`, "--local", "--persist-to", dev.state, "--command", seedSql(tenant.id, n)], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
    console.log(`seeded ${n} rows for ${tenant.id} on shard ${shard}`);

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
    const exp = await api(dev.url, "POST", "/api/1/exports", token, {
      name: `bench-${n}`,
      model: "participations",
      fields: COLUMNS.map((from) => ({ from })),
      format: { type: "csv" },
      schedule: { type: "manual" },
    });
    const first = await timedExport(exp, token, n);
    // The largest size once more, same server and rows: a peak that grows again is a leak, one
    // that does not is a high-water mark (bench/README.md, "Export memory").
    const again = n === SIZES[SIZES.length - 1] && !QUICK ? await timedExport(exp, token, n) : null;
    const { exportS, peakKb, peakAnonKb, peakWorkerdKb, rssBefore, health: healthMs, run } = first;

    results.push({ n, exportS, sqliteS, bytes: run.bytes, sqliteBytes, peakKb, peakAnonKb, peakWorkerdKb, rssBefore, health: healthMs, again });
    console.log(
      `export ${n} rows: ferry ${round(exportS, 2)} s (${run.bytes} B), sqlite3 ${round(sqliteS, 2)} s (${sqliteBytes} B), peak RSS ${round(peakKb / 1024)} MiB (before ${round(rssBefore / 1024)} MiB), peak anonymous ${round(peakAnonKb / 1024)} MiB (workerd ${round(peakWorkerdKb / 1024)} MiB)${again ? `; again: peak anonymous ${round(again.peakAnonKb / 1024)} MiB (workerd ${round(again.peakWorkerdKb / 1024)} MiB)` : ""}`,
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
    rows.push(
      { metric: `peak RSS growth ${a.n} -> ${b.n} rows`, value: growth, unit: "MiB" },
      {
        metric: `peak anonymous RSS growth ${a.n} -> ${b.n} rows`,
        value: anonGrowth,
        unit: "MiB",
        target: "flat (< 64 MiB growth for 10x rows)",
        met: anonGrowth < 64,
      },
      { metric: `workerd peak anonymous RSS growth ${a.n} -> ${b.n} rows`, value: round((b.peakWorkerdKb - a.peakWorkerdKb) / 1024), unit: "MiB" },
    );
    if (b.again) {
      rows.push({
        metric: `the ${b.n}-row export again on the same server: peak anonymous RSS growth over the first (tree / workerd)`,
        value: `${round((b.again.peakAnonKb - b.peakAnonKb) / 1024)} / ${round((b.again.peakWorkerdKb - b.peakWorkerdKb) / 1024)}`,
        unit: "MiB",
        baseline: `${round(b.again.exportS, 2)} s`,
      });
    }
  }
  record("export", { sizes: SIZES, results, rows });
} finally {
  dev.stop();
  rmSync(work, { recursive: true, force: true });
}
