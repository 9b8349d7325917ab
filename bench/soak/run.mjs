// Soak: ingestion, export runs, pushes and downloads together against `npm run dev` for 60 s
// (--quick) or 10 minutes, then checks what came out against what went in.
//  - ingestion: two clients send 200-user batches to POST /v1/logins, paced to ROWS_PER_S together;
//  - exports: three definitions of the same rows, one run every RUN_EVERY_MS (15 s; 5 s quick) in turn: one downloaded through
//    its signed link, one pushed to an S3 bucket and one to an SFTP server, both on loopback (the
//    servers the delivery tests use, test/servers/s3.ts behind its SigV4 check and
//    test/servers/sftp.ts, running in this process);
//  - bucket ingestion: a source on an S3 bucket of the same server, and every DROP_EVERY_MS one
//    Parquet file of BUCKET_FILE_ROWS purchases (row groups of 10,000; bench/lib/purchases.mjs,
//    shared with bench/bucket-ingest) dropped into it, found by `npm run dev`'s cron tick every
//    minute (issue 16: a bucket ingestion once stalled with no error). Purchases are a model the
//    three export definitions do not count; a fourth one counts them after the load;
//  - after the load, one last run of each definition must hold every row sent;
//  - every dropped file must end completed (GET /api/1/sources/:id/files), and after that one run
//    of the purchases definition must hold every row dropped;
//  - every finished run is downloaded and its sha256 checked against the run's; every pushed file
//    is read back from its server and must be byte-identical (sha256) to the download.
// Reports requests and 5xx, files dropped / completed / failed / stuck (a file is stuck when it is
// not done and no file moved for 3 minutes), rows dropped vs in the purchases export, the longest
// time from a drop to its file completed, runs started / failed / stuck, deliveries per target succeeded /
// failed / stuck, rows sent vs exported (lost) per target, and the dev server's RSS over time
// (start / peak / end, and its growth per minute over the last half of the load).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, normalize } from "node:path";
import { AwsClient } from "aws4fetch";
import { build } from "esbuild";
import { QUICK, ROOT, processTree, record, round, seedTenant, startDev, treeRssKb } from "../lib/harness.mjs";
import { purchasesParquet } from "../lib/purchases.mjs";

const DURATION_MS = (QUICK ? 60 : 600) * 1000;
const BATCH = 200;
/**
 * Ingestion is paced, not flat out: a soak asks whether a steady load for a long time loses,
 * sticks or leaks anything, and every run exports all the rows so far, so an unpaced load
 * (~5,000 rows/s here) makes a backlog of exports that grows without end (10 minutes of it
 * queued hours of export work). 400 rows/s for 10 minutes is 240,000 logins; a run every 15 s
 * is 40 runs of up to 240,000 rows. BENCH_SOAK_ROWS_PER_S and BENCH_SOAK_RUN_EVERY_S change them.
 */
const ROWS_PER_S = Number(process.env.BENCH_SOAK_ROWS_PER_S) || 400;
const RUN_EVERY_MS = (Number(process.env.BENCH_SOAK_RUN_EVERY_S) || (QUICK ? 5 : 15)) * 1000;
/** Runs (and deliveries) still not finished or failed when none moved for this long are stuck. */
const SETTLE_MS = 180_000;
/** ... or when they are not all done this long after the load stopped. */
const SETTLE_CAP_MS = 40 * 60_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const S3_CREDS = { accessKeyId: "AKIAFERRYSOAK0000001", secretAccessKey: "ferry/soak/secret/key/0123456789abcdefABCD", region: "eu-soak-1" };
const SFTP_USER = { user: "soak", password: "soak pushes all day" };
const BUCKET = "soak-pushes";
/** Bucket ingestion: one Parquet file of BUCKET_FILE_ROWS purchases dropped every DROP_EVERY_MS during the load. */
const SOURCE_BUCKET = "soak-source";
const DROP_EVERY_MS = 20_000;
const BUCKET_FILE_ROWS = Number(process.env.BENCH_SOAK_FILE_ROWS) || (QUICK ? 20_000 : 50_000);
const ROW_GROUP = 10_000;

// The test servers are TypeScript: bundled once (their packages stay imports from node_modules).
const out = join(ROOT, ".wrangler", "bench", "soak-servers.mjs");
mkdirSync(join(ROOT, ".wrangler", "bench"), { recursive: true });
await build({ entryPoints: [join(ROOT, "bench", "soak", "servers.ts")], bundle: true, platform: "node", format: "esm", packages: "external", outfile: out, logLevel: "error" });
const { startS3, startSftp } = await import(out);

const s3 = await startS3(S3_CREDS);
await s3.createBucket(BUCKET);
await s3.createBucket(SOURCE_BUCKET);
const sftp = await startSftp({ ...SFTP_USER, publicKeys: [] });
// The loopback targets are private addresses: allowed for this local run only.
const dev = await startDev({ args: ["--var", "ALLOW_PRIVATE_TARGETS:true"], timeoutMs: 600_000, log: process.env.BENCH_LOG === "1" });
let exitCode = 0;
try {
  const { token, apiKey } = await seedTenant(dev.url, "soak", ["sources-manage"]);
  const counts = { requests: 0, status5xx: 0, other4xx: 0, sent: 0 };
  const count = (status) => {
    counts.requests++;
    if (status >= 500) counts.status5xx++;
    else if (status >= 400) counts.other4xx++;
  };
  const call = async (method, path, auth, body) => {
    const r = await fetch(`${dev.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${auth}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    count(r.status);
    const json = await r.json().catch(() => null);
    return { status: r.status, json };
  };

  const targets = {
    download: undefined,
    s3: { type: "s3", endpoint: s3.endpoint, region: S3_CREDS.region, bucket: BUCKET, access_key_id: S3_CREDS.accessKeyId, secret_access_key: S3_CREDS.secretAccessKey, key: "{export}/{run_id}.{ext}", part_size_mb: 5 },
    sftp: { type: "sftp", host: "127.0.0.1", port: sftp.port, username: SFTP_USER.user, password: SFTP_USER.password, path: "/soak/{run_id}.{ext}" },
  };
  const defs = {};
  for (const [name, target] of Object.entries(targets)) {
    const exp = await call("POST", "/api/1/exports", token, {
      name: `soak-${name}`,
      model: "logins",
      all_fields: true,
      format: { type: "csv" },
      schedule: { type: "manual" },
      ...(target ? { target } : {}),
    });
    if (exp.status !== 201) throw new Error(`export definition ${name}: ${exp.status} ${JSON.stringify(exp.json)}`);
    defs[name] = exp.json.id;
  }
  const names = Object.keys(defs);
  // The bucket's purchases: their own definition, run once after every dropped file is done.
  const purchases = await call("POST", "/api/1/exports", token, { name: "soak-bucket", model: "purchases", all_fields: true, format: { type: "csv" }, schedule: { type: "manual" } });
  if (purchases.status !== 201) throw new Error(`export definition bucket: ${purchases.status} ${JSON.stringify(purchases.json)}`);
  defs.bucket = purchases.json.id;
  // The source is created while its bucket is empty (its connectivity check lists one key).
  const source = await call("POST", "/api/1/sources", token, {
    name: "soak-bucket",
    config: { type: "s3", endpoint: s3.endpoint, region: S3_CREDS.region, bucket: SOURCE_BUCKET, path_style: true, access_key_id: S3_CREDS.accessKeyId, secret_access_key: S3_CREDS.secretAccessKey },
  });
  if (source.status !== 201) throw new Error(`source: ${source.status} ${JSON.stringify(source.json)}`);

  const rss = [];
  const started = Date.now();
  const sample = () => {
    const procs = processTree(dev.pid);
    const sum = (n, k = "rss") => round(procs.filter((p) => p.name === n).reduce((a, p) => a + p[k], 0) / 1024);
    rss.push({ s: Math.round((Date.now() - started) / 1000), mib: round(treeRssKb(dev.pid) / 1024), wrangler: sum("wrangler"), workerd: sum("workerd"), workerdAnon: sum("workerd", "anon") });
  };
  sample();
  const sampler = setInterval(sample, 1000);
  const deadline = started + DURATION_MS;

  // Ingestion: two clients sending batches of distinct users.
  const ingest = async (client) => {
    // Two clients, each at half the rate: batch n is due at started + n * BATCH / (ROWS_PER_S / 2).
    const everyMs = (BATCH / (ROWS_PER_S / 2)) * 1000;
    let n = 0;
    while (Date.now() < deadline) {
      const users = Array.from({ length: BATCH }, (_, i) => ({ user_id: `c${client}-${n}-${i}` }));
      const r = await call("POST", "/v1/logins", apiKey, { users });
      if (r.status < 300) counts.sent += BATCH;
      n++;
      const due = started + n * everyMs;
      if (due > Date.now()) await sleep(Math.min(due, deadline) - Date.now());
    }
  };
  // Export runs while ingestion goes on, one every RUN_EVERY_MS, the definitions in turn.
  const runs = [];
  const startRun = async (name) => {
    const r = await call("POST", `/api/1/exports/${defs[name]}/runs`, token);
    if (r.status < 300) runs.push({ name, id: r.json.id });
    return r;
  };
  const exporter = async () => {
    for (let i = 0; Date.now() < deadline; i++) {
      await startRun(names[i % names.length]);
      await sleep(RUN_EVERY_MS);
    }
  };
  // Bucket ingestion: a Parquet file into the source's bucket every DROP_EVERY_MS (signed like any client's PUT).
  const aws = new AwsClient({ ...S3_CREDS, service: "s3" });
  const drops = [];
  const dropper = async () => {
    for (let i = 0; Date.now() < deadline; i++) {
      const key = `purchases/soak/part-${String(i).padStart(4, "0")}.parquet`;
      const r = await aws.fetch(`${s3.endpoint}/${SOURCE_BUCKET}/${key}`, { method: "PUT", body: purchasesParquet(i * BUCKET_FILE_ROWS, BUCKET_FILE_ROWS, ROW_GROUP) });
      await r.text();
      if (!r.ok) throw new Error(`PUT ${key}: ${r.status}`);
      drops.push({ key, rows: BUCKET_FILE_ROWS, at: Date.now() });
      await sleep(Math.min(DROP_EVERY_MS, deadline - Date.now()));
    }
  };
  await Promise.all([ingest(0), ingest(1), exporter(), dropper()]);
  const loadEnded = Date.now();

  // The last run of each definition starts after ingestion stopped: it must hold every row sent.
  const last = {};
  for (const name of names) {
    const r = await startRun(name);
    if (r.status >= 300) throw new Error(`last run of ${name}: ${r.status} ${JSON.stringify(r.json)}`);
    last[name] = r.json.id;
  }
  // Settle: poll every unfinished run until all are finished or failed (with their deliveries
  // delivered or failed). A 10-minute load leaves a backlog of runs queued behind each other, so
  // a run is stuck only when nothing moved (no run's status, progress or delivery changed) for
  // SETTLE_MS, or the backlog is not drained after SETTLE_CAP_MS.
  const terminal = (run) => (run?.status === "finished" && (!run.delivery || ["delivered", "failed"].includes(run.delivery.status))) || run?.status === "failed";
  const fingerprint = (run) => `${run?.status}|${run?.progress}|${run?.rows}|${run?.delivery?.status}|${run?.delivery?.attempts}`;
  const settle = async (list) => {
    const final = new Map(list.map(({ name, id }) => [id, { name, run: null }]));
    const pending = new Set(list.map((r) => r.id));
    const since = Date.now();
    let lastChange = Date.now();
    while (pending.size && Date.now() - lastChange < SETTLE_MS && Date.now() - since < SETTLE_CAP_MS) {
      for (const { name, id } of list) {
        if (!pending.has(id)) continue;
        const r = await call("GET", `/api/1/exports/${defs[name]}/runs/${id}`, token);
        const before = final.get(id).run;
        if (!before || fingerprint(before) !== fingerprint(r.json)) lastChange = Date.now();
        final.set(id, { name, run: r.json });
        if (terminal(r.json)) pending.delete(id);
      }
      if (pending.size) await sleep(1000);
    }
    return { final, drainedS: pending.size ? null : round((Date.now() - since) / 1000, 0) };
  };
  // Meanwhile every dropped file must end completed or failed; the same rule: stuck when no file
  // moved (status or rows) for SETTLE_MS. A file is found at the next cron tick (every minute).
  const settleFiles = async () => {
    let seen = "";
    let lastChange = Date.now();
    for (;;) {
      const r = await call("GET", `/api/1/sources/${source.json.id}/files?limit=200&errors_limit=3`, token);
      const files = new Map((r.json?.files ?? []).map((f) => [f.key, f]));
      const now = [...files.values()].map((f) => `${f.key}|${f.status}|${f.rows_accepted}`).join(",");
      if (now !== seen) [seen, lastChange] = [now, Date.now()];
      const open = drops.filter((d) => !["completed", "failed"].includes(files.get(d.key)?.status));
      if (!open.length) return { files, drainedS: round((Date.now() - loadEnded) / 1000, 0) };
      if (Date.now() - lastChange >= SETTLE_MS || Date.now() - loadEnded >= SETTLE_CAP_MS) return { files, drainedS: null };
      await sleep(1000);
    }
  };
  const [{ final, drainedS }, bucket] = await Promise.all([settle(runs), settleFiles()]);
  // The purchases landed: one run of their definition once no file is open, counted as the other
  // definitions' last runs are.
  const purchasesRun = await call("POST", `/api/1/exports/${defs.bucket}/runs`, token);
  if (purchasesRun.status >= 300) throw new Error(`run of the bucket definition: ${purchasesRun.status} ${JSON.stringify(purchasesRun.json)}`);
  last.bucket = purchasesRun.json.id;
  for (const [id, v] of (await settle([{ name: "bucket", id: last.bucket }])).final) final.set(id, v);

  // Every finished file: downloaded and checked against the run's sha256; a pushed one read back
  // from its server and checked against the download.
  const per = Object.fromEntries([...names, "bucket"].map((n) => [n, { runs: 0, failed: 0, stuck: 0, delivered: 0, deliveryFailed: 0, deliveryStuck: 0, identical: 0, differing: 0, downloads: 0, badDownloads: 0 }]));
  const lastRows = {};
  const errors = [];
  for (const [id, { name, run }] of final) {
    const p = per[name];
    p.runs++;
    if (run?.status === "failed") {
      p.failed++;
      errors.push(`${name} run ${id} failed: ${run.error}`);
      continue;
    }
    if (run?.status !== "finished") {
      p.stuck++;
      errors.push(`${name} run ${id} stuck: ${run?.status}`);
      continue;
    }
    const file = await fetch(run.download_url);
    count(file.status);
    const body = Buffer.from(await file.arrayBuffer());
    const digest = sha256(body);
    p.downloads++;
    if (file.status !== 200 || digest !== run.sha256) {
      p.badDownloads++;
      errors.push(`${name} run ${id}: download ${file.status}, sha256 ${digest} against the run's ${run.sha256}`);
    }
    if (id === last[name]) lastRows[name] = body.toString("utf8").split("\n").filter((l) => l.trim()).length - 1;
    if (!run.delivery) continue;
    if (run.delivery.status === "failed") {
      p.deliveryFailed++;
      errors.push(`${name} run ${id}: delivery failed: ${run.delivery.error}`);
      continue;
    }
    if (run.delivery.status !== "delivered") {
      p.deliveryStuck++;
      errors.push(`${name} run ${id}: delivery stuck: ${run.delivery.status} (${run.delivery.attempts} attempts, ${run.delivery.error})`);
      continue;
    }
    p.delivered++;
    const pushed = await readPushed(run.delivery.location);
    if (pushed && sha256(pushed) === digest) p.identical++;
    else {
      p.differing++;
      errors.push(`${name} run ${id}: the pushed file at ${run.delivery.location} differs from the download (${pushed ? `${pushed.length} bytes` : "missing"}, download ${body.length} bytes)`);
    }
  }
  clearInterval(sampler);
  sample();

  const sum = (k) => Object.keys(per).reduce((n, name) => n + per[name][k], 0);
  const lost = Object.fromEntries(names.map((n) => [n, lastRows[n] === undefined ? counts.sent : counts.sent - lastRows[n]]));
  const anyLost = Object.values(lost).some((n) => n !== 0);
  // Bucket ingestion: each dropped file's end and time from its drop to completed.
  const dropped = drops.reduce((n, d) => n + d.rows, 0);
  const fileEnds = drops.map((d) => ({ ...d, file: bucket.files.get(d.key) }));
  const completed = fileEnds.filter((d) => d.file?.status === "completed");
  const filesFailed = fileEnds.filter((d) => d.file?.status === "failed");
  const filesStuck = fileEnds.filter((d) => !["completed", "failed"].includes(d.file?.status));
  const accepted = fileEnds.reduce((n, d) => n + (d.file?.rows_accepted ?? 0), 0);
  const rejected = fileEnds.reduce((n, d) => n + (d.file?.rows_rejected ?? 0), 0);
  const landed = lastRows.bucket;
  const bucketLost = landed === undefined ? dropped : dropped - landed;
  // finished_at is in seconds: the drop to completed is known to the second.
  const dropToDone = completed.map((d) => round((d.file.finished_at * 1000 - d.at) / 1000, 0));
  const longest = dropToDone.length ? Math.max(...dropToDone) : null;
  for (const d of filesFailed) errors.push(`bucket file ${d.key} failed: ${d.file.error}`);
  for (const d of filesStuck) errors.push(`bucket file ${d.key} stuck: ${d.file ? `${d.file.status}, ${d.file.rows_accepted} rows` : "never listed"}`);
  for (const d of fileEnds.filter((x) => x.file?.rows_rejected)) errors.push(`bucket file ${d.key}: ${d.file.rows_rejected} rows rejected, first: ${JSON.stringify(d.file.errors[0])}`);
  const peak = Math.max(...rss.map((x) => x.mib));
  // Growth over the last half of the load: least-squares slope of the samples, MiB per minute.
  const loadS = (loadEnded - started) / 1000;
  const half = rss.filter((x) => x.s >= loadS / 2 && x.s <= loadS);
  const slope = (key) => {
    const n = half.length;
    const mx = half.reduce((a, x) => a + x.s, 0) / n;
    const my = half.reduce((a, x) => a + x[key], 0) / n;
    const sxy = half.reduce((a, x) => a + (x.s - mx) * (x[key] - my), 0);
    const sxx = half.reduce((a, x) => a + (x.s - mx) ** 2, 0);
    return round((sxy / sxx) * 60, 1);
  };
  const every = Math.max(1, Math.floor(rss.length / 12));
  const series = rss.filter((_, i) => i % every === 0 || i === rss.length - 1);
  const deliveryRow = (name) => {
    const p = per[name];
    return {
      metric: `deliveries to ${name}: succeeded / failed / stuck; pushed file = download (sha256)`,
      value: `${p.delivered} / ${p.deliveryFailed} / ${p.deliveryStuck}; ${p.identical} of ${p.delivered}`,
      target: "0 failed, 0 stuck, all identical",
      met: p.deliveryFailed === 0 && p.deliveryStuck === 0 && p.differing === 0 && p.delivered > 0,
    };
  };
  record("soak", {
    duration_s: DURATION_MS / 1000,
    counts,
    drained_s: drainedS,
    targets: per,
    data: { sent: counts.sent, in_last_export: lastRows, lost },
    bucket: {
      file_rows: BUCKET_FILE_ROWS,
      row_group: ROW_GROUP,
      files: { dropped: drops.length, completed: completed.length, failed: filesFailed.length, stuck: filesStuck.length },
      rows: { dropped, accepted, rejected, in_export: landed ?? null, lost: bucketLost },
      drop_to_completed_s: dropToDone,
      drained_s: bucket.drainedS,
    },
    rss_growth_mib_per_min_last_half: { tree: slope("mib"), wrangler: slope("wrangler"), workerd: slope("workerd"), workerd_anon: slope("workerdAnon") },
    rss_mib: series,
    errors: errors.slice(0, 50),
    rows: [
      { metric: `${DURATION_MS / 1000} s: requests / 5xx`, value: `${counts.requests} / ${counts.status5xx}`, target: "0 5xx", met: counts.status5xx === 0 },
      { metric: "export runs started / failed / stuck", value: `${final.size} / ${sum("failed")} / ${sum("stuck")}`, target: "0 failed, 0 stuck", met: sum("failed") === 0 && sum("stuck") === 0 },
      { metric: "backlog: every run and delivery done, after the load stopped", value: drainedS ?? "never", unit: drainedS === null ? "" : "s" },
      {
        metric: "downloads: files / sha256 = the run's",
        value: `${sum("downloads")} / ${sum("downloads") - sum("badDownloads")}`,
        target: "all",
        met: sum("badDownloads") === 0,
      },
      ...names.filter((n) => targets[n]).map(deliveryRow),
      {
        metric: `rows sent / in the last export (${names.join(", ")}) / lost`,
        value: `${counts.sent} / ${names.map((n) => lastRows[n] ?? "none").join(", ")} / ${names.map((n) => lost[n]).join(", ")}`,
        target: "0 lost",
        met: !anyLost,
      },
      {
        metric: `bucket: Parquet files of ${BUCKET_FILE_ROWS} rows dropped / completed / failed / stuck`,
        value: `${drops.length} / ${completed.length} / ${filesFailed.length} / ${filesStuck.length}`,
        target: "0 failed, 0 stuck",
        met: drops.length > 0 && filesFailed.length === 0 && filesStuck.length === 0,
      },
      {
        metric: "bucket: rows dropped / accepted (files) / in the purchases export / lost",
        value: `${dropped} / ${accepted} / ${landed ?? "none"} / ${bucketLost}`,
        target: "0 lost",
        met: bucketLost === 0 && accepted === dropped,
      },
      { metric: "bucket: longest drop to completed; every file done, after the load stopped", value: `${longest ?? "none"}; ${bucket.drainedS ?? "never"}`, unit: "s" },
      { metric: "dev server RSS start / peak / end (whole tree)", value: `${rss[0]?.mib} / ${peak} / ${rss.at(-1)?.mib}`, unit: "MiB" },
      { metric: "workerd RSS start / peak / end (anonymous)", value: `${rss[0]?.workerd} / ${Math.max(...rss.map((x) => x.workerd))} / ${rss.at(-1)?.workerd} (${rss[0]?.workerdAnon} / ${Math.max(...rss.map((x) => x.workerdAnon))} / ${rss.at(-1)?.workerdAnon})`, unit: "MiB" },
      {
        metric: "RSS growth over the last half of the load (tree; wrangler, workerd, workerd anonymous)",
        value: `${slope("mib")}; ${slope("wrangler")}, ${slope("workerd")}, ${slope("workerdAnon")}`,
        unit: "MiB/min",
      },
    ],
  });
  console.log(`soak RSS over time (s: tree MiB, wrangler, workerd, workerd anonymous): ${series.map((x) => `${x.s}: ${x.mib} (${x.wrangler}, ${x.workerd}, ${x.workerdAnon})`).join("; ")}`);
  for (const e of errors.slice(0, 20)) console.log(`soak: ${e}`);
  if (counts.status5xx || sum("failed") || sum("stuck") || anyLost || bucketLost || errors.length) exitCode = 1;
} finally {
  dev.stop();
  await s3.close();
  await sftp.close();
  rmSync(s3.directory, { recursive: true, force: true });
  rmSync(sftp.root, { recursive: true, force: true });
}
process.exit(exitCode);

/** The bytes a delivery left at its `location` (s3://bucket/key or sftp://host:port/path), null when missing. */
async function readPushed(location) {
  const u = /^s3:\/\/([^/]+)\/(.+)$/.exec(location ?? "");
  if (u) {
    const r = await s3.getObject(u[1], u[2]);
    return r.status === 200 ? Buffer.from(r.body) : null;
  }
  const f = /^sftp:\/\/[^/]+(\/.+)$/.exec(location ?? "");
  if (!f) return null;
  try {
    return readFileSync(join(sftp.root, normalize(f[1])));
  } catch {
    return null;
  }
}
