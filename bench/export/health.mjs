// Where GET /health waits while an export runs on the same `npm run dev` (issue 15, "a lean API
// worker, which job work cannot stall"). Seeds HEALTH_ROWS participations (default 200,000),
// runs one CSV export and, meanwhile:
//  - calls GET /health one after another through the dev port (wrangler's proxy workerd ->
//    the runtime workerd) and, beside it, straight to the runtime workerd's own port (no proxy),
//    each call's start and duration kept;
//  - samples every thread's CPU of each process of the dev server from /proc/<pid>/task/*/stat
//    every 100 ms, so a stall can be laid beside the thread that was busy during it.
// Prints the slowest calls with the busiest threads during each, and totals per thread.
// `node bench/export/health.mjs` (not part of `npm run bench`: an investigation tool).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { COLUMNS, seedSql } from "./seed.mjs";
import { ROOT, loadAverage, processTree, round, seedTenant, startDev } from "../lib/harness.mjs";

const N = Number(process.env.HEALTH_ROWS ?? 200_000);
const env = { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CI: "true" };

/** /proc counts CPU in clock ticks of 10 ms (USER_HZ 100). */
const MS_PER_TICK = 10;

/** Every thread of every process of the dev server: { key: "name/pid/comm/tid", cpuMs }. */
function threads(rootPid) {
  const out = new Map();
  for (const p of processTree(rootPid)) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${p.pid}/task`);
    } catch {}
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${p.pid}/task/${tid}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out.set(`${p.name}:${p.pid}/${comm}:${tid}`, (Number(f[11]) + Number(f[12])) * MS_PER_TICK);
      } catch {}
    }
  }
  return out;
}

/** TCP ports a process listens on, from /proc/<pid>/net/tcp and its socket inodes. */
function listenPorts(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const l = execFileSync("readlink", [`/proc/${pid}/fd/${fd}`], { encoding: "utf8" }).trim();
      const m = /^socket:\[(\d+)\]$/.exec(l);
      if (m) inodes.add(m[1]);
    } catch {}
  }
  const ports = [];
  for (const file of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A" || !inodes.has(f[9])) continue;
      ports.push(Number.parseInt(f[1].split(":").pop(), 16));
    }
  }
  return ports;
}

function probe(url, label, t0) {
  const calls = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = performance.now();
      try {
        const r = await fetch(`${url}/health`, { headers: { Host: "localhost" } });
        await r.arrayBuffer();
        calls.push({ label, at: s - t0, ms: performance.now() - s, status: r.status });
      } catch (err) {
        calls.push({ label, at: s - t0, ms: performance.now() - s, status: String(err.cause?.code ?? err.message) });
      }
      await new Promise((ok) => setTimeout(ok, 20));
    }
  })();
  return {
    calls,
    async stop() {
      running = false;
      await loop;
      return calls;
    },
  };
}

const stats = (calls) => {
  const t = calls.map((c) => c.ms).sort((a, b) => a - b);
  const at = (q) => round(t[Math.min(t.length - 1, Math.floor(q * t.length))] ?? 0, 0);
  return { n: t.length, p50: at(0.5), p99: at(0.99), max: round(t[t.length - 1] ?? 0, 0) };
};

const dev = await startDev({ log: process.env.BENCH_LOG === "1", timeoutMs: 600_000 });
try {
  const { tenant, token } = await seedTenant(dev.url, "health-probe");
  const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const tenants = await fetch(`${dev.url}/api/1/admin/tenants`, { headers: { Authorization: "Bearer dev-admin-token" } }).then((r) => r.json());
  const shard = tenants.tenants.find((t) => t.id === tenant.id).shard;
  const seeded = spawnSync("wrangler", ["d1", "execute", `DATA_${shard}`, "--local", "--persist-to", dev.state, "--command", seedSql(tenant.id, N)], { cwd: ROOT, env, encoding: "utf8" });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const exp = await fetch(`${dev.url}/api/1/exports`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ name: "health", model: "participations", fields: COLUMNS.map((from) => ({ from })), format: { type: "csv" }, schedule: { type: "manual" } }),
  }).then((r) => r.json());

  const runtime = processTree(dev.pid).find((p) => p.name === "workerd");
  const ports = listenPorts(runtime.pid);
  console.log(`runtime workerd ${runtime.pid} listens on ${ports.join(", ")}`);
  // The runtime's user-facing socket answers /health itself (miniflare's entry routes to the first worker).
  let direct = null;
  for (const port of ports) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
      const body = await r.text();
      if (r.ok && body.includes('"ok"')) {
        direct = `http://127.0.0.1:${port}`;
        break;
      }
    } catch {}
  }
  console.log(`direct runtime URL: ${direct ?? "none found"}`);

  const idleT0 = performance.now();
  const idle = [probe(dev.url, "proxy", idleT0), ...(direct ? [probe(direct, "direct", idleT0)] : [])];
  await new Promise((r) => setTimeout(r, 3000));
  const idleCalls = (await Promise.all(idle.map((p) => p.stop()))).flat();

  const samples = [];
  const t0 = performance.now();
  let prev = threads(dev.pid);
  const sampler = setInterval(() => {
    const now = threads(dev.pid);
    const at = performance.now() - t0;
    const d = {};
    for (const [k, v] of now) {
      const dv = v - (prev.get(k) ?? 0);
      if (dv > 0) d[k] = dv;
    }
    samples.push({ at, d });
    prev = now;
  }, 100);
  // HEALTH_PROBE=0: the export alone, to time what the probe's own calls cost it.
  const probes = process.env.HEALTH_PROBE === "0" ? [] : [probe(dev.url, "proxy", t0), ...(direct ? [probe(direct, "direct", t0)] : [])];
  const started = await fetch(`${dev.url}/api/1/exports/${exp.id}/runs`, { method: "POST", headers: auth }).then((r) => r.json());
  let run;
  for (;;) {
    run = await fetch(`${dev.url}/api/1/exports/${exp.id}/runs/${started.id}`, { headers: auth }).then((r) => r.json());
    if (run.status === "finished" || run.status === "failed") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const exportS = (performance.now() - t0) / 1000;
  const calls = (await Promise.all(probes.map((p) => p.stop()))).flat();
  clearInterval(sampler);
  console.log(`export of ${N} rows: ${run.status}, ${round(exportS, 2)} s, load ${loadAverage()}`);

  for (const label of ["proxy", "direct"]) {
    const idleS = stats(idleCalls.filter((c) => c.label === label));
    const busy = stats(calls.filter((c) => c.label === label));
    if (busy.n) console.log(`/health via ${label}: idle n=${idleS.n} p50 ${idleS.p50} p99 ${idleS.p99} max ${idleS.max} ms; during export n=${busy.n} p50 ${busy.p50} p99 ${busy.p99} max ${busy.max} ms`);
  }
  const total = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.d)) total[k] = (total[k] ?? 0) + v;
  console.log(`CPU per thread during the export (ms of ${round(exportS * 1000, 0)} ms wall):`);
  for (const [k, v] of Object.entries(total).sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${k.padEnd(50)} ${round(v, 0)}`);
  console.log("slowest calls, with the threads busy during them (ms CPU):");
  for (const c of [...calls].sort((a, b) => b.ms - a.ms).slice(0, 8)) {
    const during = {};
    for (const s of samples) if (s.at >= c.at && s.at - 100 <= c.at + c.ms) for (const [k, v] of Object.entries(s.d)) during[k] = (during[k] ?? 0) + v;
    const top = Object.entries(during)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${round(v, 0)}`)
      .join(", ");
    console.log(`  ${c.label} at ${round(c.at / 1000, 2)} s: ${round(c.ms, 0)} ms (${c.status}); ${top}`);
  }
  if (process.env.HEALTH_TIMELINE === "1") for (const c of calls) console.log(`${c.label}\t${round(c.at, 0)}\t${round(c.ms, 0)}`);
} finally {
  dev.stop();
}
