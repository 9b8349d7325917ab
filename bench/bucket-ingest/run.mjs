// Bulk ingestion from a bucket: rows/s for 1,000,000 rows in NDJSON and in Parquet (--quick: 20,000),
// through `npm run dev` (wrangler dev: workerd, local D1, local queue) and an s3rver started here.
// Each run: upload the files, trigger the cron once (/__scheduled), wait until every file is
// completed (GET /api/1/sources/:id/files), rows/s = rows / (last completion - trigger).
// Knobs: BENCH_ROWS=<n>, BENCH_FORMATS=ndjson|parquet|ndjson,parquet, BENCH_LOG=1 (dev server output).
import { AwsClient } from "aws4fetch";
import { parquetWriteBuffer } from "hyparquet-writer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { QUICK, freePort, record, round, startDev, watchPeakRss } from "../lib/harness.mjs";

const ROWS = Number(process.env.BENCH_ROWS) || (QUICK ? 20_000 : 1_000_000);
const FILES = QUICK ? 4 : 20;
const PER_FILE = ROWS / FILES;
const ROW_GROUP = 10_000;
const ADMIN = { Authorization: "Bearer dev-admin-token", "Content-Type": "application/json" };
// s3rver's own account; it stores objects on disk and answers ranged GETs.
const CREDS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER", region: "us-east-1" };

async function api(url, method, path, body, headers = ADMIN) {
  const r = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

const ts = (i) => `2026-11-${String(1 + (i % 28)).padStart(2, "0")} ${String(i % 24).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}:00`;

function ndjson(from, n) {
  const lines = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = from + i;
    lines[i] = JSON.stringify({ timestamp: ts(k), user_id: `u${k % 100_000}`, item_id: `item-${k % 97}`, count: 1 + (k % 5), price: round(0.99 + (k % 1000) / 10, 2), platform: "steam" });
  }
  return `${lines.join("\n")}\n`;
}

function parquet(from, n) {
  const idx = Array.from({ length: n }, (_, i) => from + i);
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: "timestamp", data: idx.map(ts), type: "STRING" },
        { name: "user_id", data: idx.map((k) => `u${k % 100_000}`), type: "STRING" },
        { name: "item_id", data: idx.map((k) => `item-${k % 97}`), type: "STRING" },
        { name: "count", data: idx.map((k) => 1 + (k % 5)), type: "INT32" },
        { name: "price", data: idx.map((k) => round(0.99 + (k % 1000) / 10, 2)), type: "DOUBLE" },
        { name: "platform", data: idx.map(() => "steam"), type: "STRING" },
      ],
      rowGroupSize: ROW_GROUP,
    }),
  );
}

async function waitFiles(url, token, sourceId, expected) {
  const auth = { Authorization: `Bearer ${token}` };
  for (;;) {
    const { files } = await api(url, "GET", `/api/1/sources/${sourceId}/files?limit=200&errors_limit=0`, undefined, auth);
    const done = files.filter((f) => f.status === "completed" || f.status === "failed");
    if (files.length === expected && done.length === expected) return files;
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
    const body = format === "ndjson" ? ndjson(f * PER_FILE, PER_FILE) : parquet(f * PER_FILE, PER_FILE);
    bytes += typeof body === "string" ? Buffer.byteLength(body) : body.length;
    await put(`purchases/date=2026-11-${String(1 + (f % 28)).padStart(2, "0")}/load_id=${f}/part-${f}.${format}`, body);
  }
  const peak = watchPeakRss(dev.pid);
  const t0 = performance.now();
  const trig = await fetch(`${dev.url}/__scheduled?cron=*+*+*+*+*`);
  await trig.text();
  const files = await waitFiles(dev.url, token, src.id, FILES);
  const seconds = (performance.now() - t0) / 1000;
  const accepted = files.reduce((n, f) => n + f.rows_accepted, 0);
  const failed = files.filter((f) => f.status !== "completed").length;
  const rssMb = round(peak.stop() / 1024, 0);
  return { format, rows: accepted, files: FILES, bytes, seconds: round(seconds, 1), rows_per_s: Math.round(accepted / seconds), failed, peak_rss_mb: rssMb };
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
