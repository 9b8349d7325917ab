// Soak: ingestion, export runs and downloads of their files together against `npm run dev`
// for 60 s (--quick) or 10 minutes, then checks what came out against what went in:
// any 5xx, runs that never finished, rows lost (the last export counted against the rows
// sent), and the dev server's RSS over time.
import { QUICK, record, round, seedTenant, startDev, treeRssKb } from "../lib/harness.mjs";

const DURATION_MS = (QUICK ? 60 : 600) * 1000;
const BATCH = 200;
const RUN_EVERY_MS = 5000;
const SETTLE_MS = 180_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dev = await startDev({ timeoutMs: 600_000 });
let exitCode = 0;
try {
  const { token, apiKey } = await seedTenant(dev.url, "soak");
  const counts = { requests: 0, status5xx: 0, other4xx: 0, sent: 0 };
  const call = async (method, path, auth, body) => {
    const r = await fetch(`${dev.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${auth}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    counts.requests++;
    if (r.status >= 500) counts.status5xx++;
    else if (r.status >= 400) counts.other4xx++;
    const json = await r.json().catch(() => null);
    return { status: r.status, json };
  };

  const exp = await call("POST", "/api/1/exports", token, {
    name: "soak",
    model: "logins",
    all_fields: true,
    format: { type: "csv" },
    schedule: { type: "manual" },
  });
  if (exp.status !== 201) throw new Error(`export definition: ${exp.status} ${JSON.stringify(exp.json)}`);

  const rss = [];
  const started = Date.now();
  const sampler = setInterval(() => rss.push({ s: Math.round((Date.now() - started) / 1000), mib: round(treeRssKb(dev.pid) / 1024) }), 1000);
  const deadline = started + DURATION_MS;

  // Ingestion: two clients sending batches of distinct users.
  const ingest = async (client) => {
    let n = 0;
    while (Date.now() < deadline) {
      const users = Array.from({ length: BATCH }, (_, i) => ({ user_id: `c${client}-${n}-${i}` }));
      const r = await call("POST", "/v1/logins", apiKey, { users });
      if (r.status < 300) counts.sent += BATCH;
      n++;
    }
  };
  // Export runs while ingestion goes on; each finished file is downloaded through its signed link.
  const runs = [];
  const exporter = async () => {
    while (Date.now() < deadline) {
      const r = await call("POST", `/api/1/exports/${exp.json.id}/runs`, token);
      if (r.status < 300) runs.push(r.json.id);
      await sleep(RUN_EVERY_MS);
    }
  };
  await Promise.all([ingest(0), ingest(1), exporter()]);

  // The last run starts after ingestion stopped: it must hold every row sent.
  const last = await call("POST", `/api/1/exports/${exp.json.id}/runs`, token);
  runs.push(last.json.id);
  const settleBy = Date.now() + SETTLE_MS;
  const final = new Map();
  for (const id of runs) {
    for (;;) {
      const r = await call("GET", `/api/1/exports/${exp.json.id}/runs/${id}`, token);
      if (r.json?.status === "finished" || r.json?.status === "failed" || Date.now() > settleBy) {
        final.set(id, r.json);
        break;
      }
      await sleep(500);
    }
  }
  let downloaded = 0;
  let lastRows = null;
  for (const [id, run] of final) {
    if (run?.status !== "finished" || !run.download_url) continue;
    const body = await (await fetch(run.download_url)).text();
    downloaded++;
    if (id === last.json.id) lastRows = body.split("\n").filter((l) => l.trim()).length - 1;
  }
  clearInterval(sampler);
  const stuck = [...final.values()].filter((r) => r?.status !== "finished" && r?.status !== "failed").length;
  const failed = [...final.values()].filter((r) => r?.status === "failed").length;
  const lost = lastRows === null ? counts.sent : counts.sent - lastRows;
  const peak = Math.max(...rss.map((x) => x.mib));
  const every = Math.max(1, Math.floor(rss.length / 10));
  const series = rss.filter((_, i) => i % every === 0 || i === rss.length - 1);
  record("soak", {
    duration_s: DURATION_MS / 1000,
    counts,
    runs: { started: runs.length, failed, stuck, downloaded },
    data: { sent: counts.sent, in_last_export: lastRows, lost },
    rss_mib: series,
    rows: [
      { metric: `${DURATION_MS / 1000} s: requests / 5xx`, value: `${counts.requests} / ${counts.status5xx}`, target: "0 5xx", met: counts.status5xx === 0 },
      { metric: "export runs started / failed / stuck", value: `${runs.length} / ${failed} / ${stuck}`, target: "0 stuck", met: stuck === 0 },
      { metric: "rows sent / in the last export / lost", value: `${counts.sent} / ${lastRows} / ${lost}`, target: "0 lost", met: lost === 0 },
      { metric: "dev server RSS start / peak / end", value: `${rss[0]?.mib} / ${peak} / ${rss.at(-1)?.mib}`, unit: "MiB" },
    ],
  });
  console.log(`soak RSS over time (s: MiB): ${series.map((x) => `${x.s}: ${x.mib}`).join(", ")}`);
  if (counts.status5xx || stuck || lost) exitCode = 1;
} finally {
  dev.stop();
}
process.exit(exitCode);
