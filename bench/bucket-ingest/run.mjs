// Bulk ingestion from a bucket: rows/s for 1,000,000 rows in NDJSON and in Parquet (--quick: 20,000),
// through `npm run dev` (wrangler dev: workerd, local D1, local queue) and an s3rver started here.
// Each run: upload the files, trigger the cron once (/__scheduled) so the files are found at once,
// wait until every file is completed (GET /api/1/sources/:id/files), rows/s = rows / (last
// completion - trigger). Meanwhile `npm run dev` ticks the cron at the start of every minute, as
// production's `* * * * *` trigger does, so the chain sweep resumes any link whose lease ran out.
// Every PROGRESS_EVERY_S the rows and files by state are printed (the progress timeline, kept in
// the results); if no row moves for BENCH_STALL_SECONDS (default 300: a lease plus a tick, twice
// over) the run stops with a diagnosis instead of waiting silently: files by state, and each open
// file's checkpoint with its chain (position, holder, lease, attempts, last error) read from the
// local control database with `wrangler d1 execute --local`.
// Knobs: BENCH_ROWS=<n>, BENCH_FILES=<n>, BENCH_ROW_GROUP=<rows>, BENCH_FORMATS=ndjson|parquet|ndjson,parquet,
// BENCH_STALL_SECONDS=<s>, BENCH_LOG=1 (dev server output).
import { spawnSync } from "node:child_process";
import { AwsClient } from "aws4fetch";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { QUICK, ROOT, freePort, loadAverage, record, round, startDev, watchPeakRss } from "../lib/harness.mjs";
import { purchasesNdjson, purchasesParquet } from "../lib/purchases.mjs";

const ROWS = Number(process.env.BENCH_ROWS) || (QUICK ? 20_000 : 1_000_000);
const FILES = Number(process.env.BENCH_FILES) || (QUICK ? 4 : 20);
const PER_FILE = ROWS / FILES;
const ROW_GROUP = Number(process.env.BENCH_ROW_GROUP) || 10_000;
const STALL_SECONDS = Number(process.env.BENCH_STALL_SECONDS) || 300;
const PROGRESS_EVERY_S = QUICK ? 5 : 30;
const ADMIN = { Authorization: "Bearer dev-admin-token", "Content-Type": "application/json" };
// s3rver's own account; it stores objects on disk and answers ranged GETs.
const CREDS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER", region: "us-east-1" };

async function api(url, method, path, body, headers = ADMIN) {
  const r = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** The local control database's view of the source's open files and their chains (for a diagnosis). */
function chainState(state, sourceId) {
  const sql = `SELECT f.key, f.status, f.position AS checkpoint, f.rows_accepted, c.status AS chain, c.position, c.holder IS NOT NULL AS held,
    c.lease_until - CAST(strftime('%s','now') AS INTEGER) AS lease_left_s, c.attempts, c.last_error
    FROM source_files f LEFT JOIN chains c ON c.id = 'source_file:' || f.id
    WHERE f.source_id = '${sourceId}' AND f.status NOT IN ('completed', 'failed') ORDER BY f.key`;
  const r = spawnSync("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", sql], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  try {
    return JSON.parse(r.stdout)[0].results;
  } catch {
    return [{ error: `wrangler d1 execute failed: ${(r.stderr || r.stdout || String(r.error)).slice(0, 500)}` }];
  }
}

const byState = (files) => Object.fromEntries(["pending", "processing", "completed", "failed"].map((k) => [k, files.filter((f) => f.status === k).length]));

/**
 * Waits until all `expected` files ended, printing and keeping the progress timeline; throws with
 * a diagnosis when no row moved for STALL_SECONDS.
 */
async function waitFiles(dev, token, sourceId, expected, format, t0) {
  const auth = { Authorization: `Bearer ${token}` };
  const timeline = [];
  let lastRows = -1;
  let lastMove = performance.now();
  let lastPrint = 0;
  for (;;) {
    const { files } = await api(dev.url, "GET", `/api/1/sources/${sourceId}/files?limit=200&errors_limit=0`, undefined, auth);
    const rows = files.reduce((n, f) => n + f.rows_accepted, 0);
    const now = performance.now();
    const t = round((now - t0) / 1000, 0);
    if (rows !== lastRows) [lastRows, lastMove] = [rows, now];
    const ended = files.filter((f) => f.status === "completed" || f.status === "failed").length;
    const done = files.length === expected && ended === expected;
    if (done || t - lastPrint >= PROGRESS_EVERY_S) {
      lastPrint = t;
      const point = { t, rows, ...byState(files), load1: loadAverage() };
      timeline.push(point);
      console.log(`[${format}] t=${t}s rows=${rows} files ${JSON.stringify(byState(files))} load ${point.load1}`);
    }
    if (done) return { files, timeline };
    if ((now - lastMove) / 1000 >= STALL_SECONDS) {
      console.error(`[${format}] STALLED: ${rows} rows, no progress for ${STALL_SECONDS} s (the cron ticks every minute; a lease is 60 s)`);
      console.error(`[${format}] files by state: ${JSON.stringify(byState(files))}`);
      console.error(`[${format}] open files and their chains (local control DB):`);
      for (const row of chainState(dev.state, sourceId)) console.error(`  ${JSON.stringify(row)}`);
      throw new Error(`${format}: stalled at ${rows} rows after ${t} s; diagnosis above`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function runFormat(dev, s3url, token, format) {
  const bucket = `bench-${format}-${Date.now()}`;
  const aws = new AwsClient({ ...CREDS, service: "s3" });
  const put = async (key, body) => {
    const r = await aws.fetch(`${s3url}/${bucket}/${key}`, { method: "PUT", body });
    await r.text();
    if (!r.ok) throw new Error(`PUT ${key}: ${r.status}`);
  };
  const mk = await aws.fetch(`${s3url}/${bucket}`, { method: "PUT" });
  await mk.text();
  // The source is created while the bucket is empty (its connectivity check lists one key).
  const src = await api(dev.url, "POST", "/api/1/sources", { name: format, config: { type: "s3", endpoint: s3url, region: CREDS.region, bucket, path_style: true, access_key_id: CREDS.accessKeyId, secret_access_key: CREDS.secretAccessKey } }, { Authorization: `Bearer ${token}`, "Content-Type": "application/json" });
  let bytes = 0;
  for (let f = 0; f < FILES; f++) {
    const body = format === "ndjson" ? purchasesNdjson(f * PER_FILE, PER_FILE) : purchasesParquet(f * PER_FILE, PER_FILE, ROW_GROUP);
    bytes += typeof body === "string" ? Buffer.byteLength(body) : body.length;
    await put(`purchases/date=2026-11-${String(1 + (f % 28)).padStart(2, "0")}/load_id=${f}/part-${f}.${format}`, body);
  }
  const peak = watchPeakRss(dev.pid);
  const t0 = performance.now();
  const trig = await fetch(`${dev.url}/__scheduled?cron=*+*+*+*+*`);
  await trig.text();
  const { files, timeline } = await waitFiles(dev, token, src.id, FILES, format, t0);
  const seconds = (performance.now() - t0) / 1000;
  const accepted = files.reduce((n, f) => n + f.rows_accepted, 0);
  const failed = files.filter((f) => f.status !== "completed").length;
  const rssMb = round(peak.stop() / 1024, 0);
  return { format, rows: accepted, files: FILES, bytes, seconds: round(seconds, 1), rows_per_s: Math.round(accepted / seconds), failed, peak_rss_mb: rssMb, timeline };
}

const s3dir = mkdtempSync(join(tmpdir(), "ferry-bench-s3-"));
const s3port = await freePort();
const s3 = new S3rver({ port: s3port, address: "127.0.0.1", silent: true, directory: s3dir });
await s3.run();
const s3url = `http://127.0.0.1:${s3port}`;
// The loopback S3 server is a private address: allowed for this local run only.
const dev = await startDev({ args: ["--test-scheduled", "--var", "ALLOW_PRIVATE_TARGETS:true"], timeoutMs: 300_000, log: process.env.BENCH_LOG === "1" });
try {
  const tenant = await api(dev.url, "POST", "/api/1/admin/tenants", { name: "bench-bucket" });
  const client = await api(dev.url, "POST", `/api/1/admin/tenants/${tenant.id}/clients`, { name: "bench", permissions: ["sources-manage"] });
  const { access_token: token } = await api(dev.url, "POST", "/api/1/oauth2/access_token", { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret });
  const results = [];
  for (const format of (process.env.BENCH_FORMATS ?? "ndjson,parquet").split(",")) results.push(await runFormat(dev, s3url, token, format));
  const rows = results.map((r) => ({
    metric: `${r.format}: ${r.rows.toLocaleString("en")} rows in ${r.files} files (${round(r.bytes / 1048576, 1)} MiB)`,
    value: r.rows_per_s,
    unit: `rows/s (${r.seconds} s, ${r.failed} failed files, peak RSS ${r.peak_rss_mb} MB)`,
  }));
  record("bucket-ingest", { rows_target: ROWS, files: FILES, row_group: ROW_GROUP, results, rows });
  for (const r of results) if (r.rows !== ROWS || r.failed) throw new Error(`${r.format}: ${r.rows} of ${ROWS} rows, ${r.failed} failed files`);
} finally {
  dev.stop();
  await s3.close();
  rmSync(s3dir, { recursive: true, force: true });
}
