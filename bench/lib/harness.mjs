// Shared pieces of the benchmarks: start `npm run dev` on a free port with fresh local state,
// seed a tenant, measure process memory, and record results.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const QUICK = process.argv.includes("--quick");

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the API as `npm run dev` does, on its own port and a throw-away state directory. */
export async function startDev({ log = false, args = [], timeoutMs = 180_000 } = {}) {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "ferry-bench-"));
  const child = spawn(
    process.execPath,
    ["scripts/dev.mjs", "--port", String(port), "--persist-to", state, "--log-level", "error", "--show-interactive-dev-session=false", ...args],
    {
      cwd: ROOT,
      detached: true,
      stdio: log ? "inherit" : "ignore",
      env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      stop();
      throw new Error(`dev server did not answer /health within ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  function stop() {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    rmSync(state, { recursive: true, force: true });
  }
  return { url, port, pid: child.pid, state, stop };
}

/**
 * A bench-only worker under its own `wrangler dev` (`config`, a path) on a free port with fresh
 * local state, its D1 `migrate` binding migrated first (the runtime floors of bench/ingest,
 * bench/export and bench/latency); ready once `GET /` gets any answer; answers its URL, pid, state
 * directory and how to stop it.
 */
export async function startWorker(config, { migrate, timeoutMs = 600_000 } = {}) {
  const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
  const state = mkdtempSync(join(tmpdir(), "ferry-bench-floor-"));
  const env = { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, CI: "true", WRANGLER_SEND_METRICS: "false" };
  if (migrate) {
    const applied = await new Promise((resolve) => {
      const p = spawn(wrangler, ["d1", "migrations", "apply", migrate, "--local", "--persist-to", state, "-c", config], { env, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      p.stderr.on("data", (d) => (err += d));
      p.on("close", (code) => resolve({ code, err }));
    });
    if (applied.code !== 0) throw new Error(`${config}: migrations: ${applied.err}`);
  }
  const port = await freePort();
  const child = spawn(
    wrangler,
    ["dev", "-c", config, "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", state, "--log-level", "error", "--show-interactive-dev-session=false"],
    { cwd: ROOT, detached: true, stdio: "ignore", env },
  );
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    rmSync(state, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + timeoutMs; ; ) {
    try {
      await (await fetch(url)).text();
      break;
    } catch {}
    if (Date.now() > deadline) {
      stop();
      throw new Error(`${config}: the worker did not start within ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, pid: child.pid, state, stop };
}

/**
 * `npm run dev` (startDev) and a bench worker (startWorker) started together; a failure of either
 * stops both. `opts`: startWorker's, and `log` (the dev server's output, as startDev's).
 */
export async function startDevAndWorker(config, opts = {}) {
  const started = await Promise.allSettled([startDev({ timeoutMs: opts.timeoutMs, log: opts.log }), startWorker(config, opts)]);
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    for (const r of started) if (r.status === "fulfilled") r.value.stop();
    throw failed.reason;
  }
  return started.map((r) => r.value);
}

async function post(url, path, body, headers = {}, method = "POST") {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * A tenant with a client (the export and ingestion permissions, plus `permissions`), an access
 * token and an ingestion API key.
 */
export async function seedTenant(url, name = "bench", permissions = []) {
  const admin = { Authorization: "Bearer dev-admin-token" };
  const tenant = await post(url, "/api/1/admin/tenants", { name }, admin);
  // Benches measure ferry, not the rate limiter (docs/rate-limits.md): the tenant's /v1 and
  // /api/1 calls are not counted. The token endpoint's limits still apply.
  await post(url, `/api/1/admin/tenants/${tenant.id}`, { rate_limits: { ingest: "unlimited", api: "unlimited" } }, admin, "PATCH");
  const client = await post(
    url,
    `/api/1/admin/tenants/${tenant.id}/clients`,
    { name: "bench", permissions: ["automated-exports-view", "exports-manage", "ingest", ...permissions] },
    admin,
  );
  const token = await post(url, "/api/1/oauth2/access_token", {
    grant_type: "client_credentials",
    client_id: client.client_id,
    client_secret: client.client_secret,
  });
  const key = await post(url, `/api/1/admin/tenants/${tenant.id}/api-keys`, { name: "bench" }, admin);
  return { tenant, client, token: token.access_token, apiKey: key.api_key };
}

/**
 * CPU time (ms) used so far by a process and its descendants (wrangler, workerd), from /proc:
 * the server's cost per batch, whatever else the machine is running.
 */
export function treeCpuMs(rootPid) {
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

/** Resident memory (kB) of a process and all its descendants, from /proc. */
export const treeRssKb = (rootPid) => processTree(rootPid).reduce((n, p) => n + p.rss, 0);

/**
 * Anonymous resident memory (kB) of a process tree: leaves out file pages (the local D1 and R2
 * are files inside the dev server, whose cached pages grow with the data, not with the work).
 */
export const treeAnonKb = (rootPid) => processTree(rootPid).reduce((n, p) => n + p.anon, 0);

/**
 * Anonymous resident memory (kB) of the tree's `workerd` (processTree's name: the one that runs
 * our workers and the local D1, R2 and queues). The tree's figure also moves with wrangler's node
 * and its esbuild, whose garbage comes and goes whatever the work does.
 */
export const workerdAnonKb = (rootPid) =>
  processTree(rootPid)
    .filter((p) => p.name === "workerd")
    .reduce((n, p) => n + p.anon, 0);

/**
 * Each process of a tree with its resident memory (kB, from `/proc/<pid>/status`): `rss` (VmRSS)
 * and `anon` (RssAnon). `name` tells the dev server's processes apart: `dev.mjs` (scripts/dev.mjs),
 * `wrangler` (wrangler's node process), `workerd-proxy` (the workerd that listens on the dev port
 * and runs wrangler's proxy worker), `workerd` (the one that runs our workers and the local D1, R2
 * and queues), or the process's own name (`esbuild`: wrangler's bundler service).
 */
export function processTree(rootPid) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const field = (f) => Number(new RegExp(`${f}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      // Node 24 names its main thread "MainThread", so node is told by its executable.
      const node = /(^|\/)node$/.test(cmd.split(" ")[0]);
      const name =
        comm === "workerd" ? (/entry=localhost:/.test(cmd) ? "workerd-proxy" : "workerd") : node && /scripts\/dev\.mjs/.test(cmd) ? "dev.mjs" : node && /wrangler/.test(cmd) ? "wrangler" : comm;
      out.push({ pid, name, rss: field("VmRSS"), anon: field("RssAnon") });
    } catch {}
    stack.push(...(children.get(pid) ?? []));
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Samples peak tree RSS every `everyMs` until stopped. */
export function watchPeakRss(pid, everyMs = 100) {
  let peak = treeRssKb(pid);
  const t = setInterval(() => {
    peak = Math.max(peak, treeRssKb(pid));
  }, everyMs);
  return { stop: () => (clearInterval(t), peak), get peak() { return peak; } };
}

export function percentile(sorted, p) {
  if (!sorted.length) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

/** The machine's 1-minute load average now (other sessions share the cores: every figure carries it). */
export const loadAverage = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

/**
 * Records a benchmark's result as bench/results/<name>.json (a full run) or
 * bench/results/<name>.quick.json (a quick run): bench/run.mjs keeps the two apart, so a quick
 * run never replaces a full run's figures. `rows` feed the table in bench/README.md:
 * { metric, value, unit, baseline?, ratio?, target?, met?, load? } (`load`: the 1-minute load
 * average while that figure was measured; the one at record time otherwise).
 */
export function record(name, result) {
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const full = { name, date: new Date().toISOString(), quick: QUICK, load1: loadAverage(), ...result };
  writeFileSync(join(dir, `${name}${QUICK ? ".quick" : ""}.json`), `${JSON.stringify(full, null, 2)}\n`);
  for (const r of result.rows ?? []) {
    const extra = [
      r.baseline !== undefined ? `baseline ${r.baseline}` : "",
      r.ratio !== undefined ? `ratio ${r.ratio}` : "",
      r.target ? `target ${r.target}: ${r.met ? "met" : "NOT met"}` : "",
      `load ${r.load ?? full.load1}`,
    ]
      .filter(Boolean)
      .join(", ");
    console.log(`${name.padEnd(14)} ${r.metric.padEnd(40)} ${String(r.value).padStart(12)} ${r.unit ?? ""}${extra ? `  (${extra})` : ""}`);
  }
  return full;
}

export const round = (n, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Eight 1000-item `/v1/actions` bodies in the reference's item shape, over 5000 distinct users
 * (bench/ingest and bench/ingest-queue send the same ones).
 */
export function actionBodies(batch = 1000) {
  const items = (seq) =>
    Array.from({ length: batch }, (_, i) => ({
      timestamp: "2019-01-01 15:04:05",
      user_id: String(1000 + ((seq * batch + i) % 5000)),
      action_id: "2002",
      action_name: "buy_item",
      action_params: [{ key: "item_id", value: String(3000 + (i % 100)) }],
    }));
  return Array.from({ length: 8 }, (_, s) => JSON.stringify({ actions: items(s) }));
}

/**
 * `concurrency` clients POST `bodies` in turn to `url` for `durationMs`; every answer must be
 * `status`. `headers(client, seq, t0)` adds headers per request. Answers the batch count, events/s
 * (`perBody` events a body) and latency p50 / p99 in ms; with `raw`, also every latency (sorted)
 * and the seconds the load took, to pool several runs.
 */
export async function postLoad({ url, bodies, durationMs, concurrency, status, perBody = 1000, headers = () => ({}), raw = false }) {
  const latencies = [];
  let n = 0;
  const t0 = performance.now();
  const until = t0 + durationMs;
  async function client(id) {
    while (performance.now() < until) {
      const seq = n++;
      const start = performance.now();
      const r = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers(id, seq, t0) },
        body: bodies[seq % bodies.length],
      });
      const text = await r.text();
      latencies.push(performance.now() - start);
      if (r.status !== status) throw new Error(`POST ${url}: ${r.status} ${text.slice(0, 300)}`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    batches: latencies.length,
    events_per_s: round((latencies.length * perBody) / seconds, 0),
    p50: round(percentile(latencies, 50), 2),
    p99: round(percentile(latencies, 99), 2),
    ...(raw ? { latencies, seconds } : {}),
  };
}
