// Footprint: the API worker's size (raw and gzipped, as `wrangler deploy --dry-run` builds it),
// what each package contributes, and its startup time in workerd next to a hello-world worker
// measured in the same run; the jobs worker's size beside it. Targets (API worker): under
// 400 KB gzipped, startup within 1.2x hello-world, judged on the first answer of a real route
// (the token endpoint refusing wrong credentials: route, zod, D1), since the API builds each
// route group on its first request (src/app.ts) and /health is in none of them, and timed from
// workerd's spawn (the runtime's start; the whole start, miniflare's Node side included, is
// reported beside it: see "Startup" below).
import childProcess, { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { QUICK, ROOT, record, round } from "../lib/harness.mjs";

/** Builds one worker as `wrangler deploy --dry-run --minify` does; its size and bytes per package. */
function build(config, out) {
  execFileSync("wrangler", ["deploy", "--dry-run", "--minify", "-c", config, "--outdir", out, "--metafile", join(out, "meta.json")], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  // The upload is the entry's .js plus any module it imports (ssh2's precompiled poly1305.wasm).
  const uploaded = readdirSync(out).filter((f) => f !== "meta.json" && f !== "README.md" && !f.endsWith(".map"));
  let raw = 0;
  let gz = 0;
  for (const f of uploaded) {
    const bytes = readFileSync(join(out, f));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  // Bytes per package, from esbuild's metafile (input bytes after tree-shaking).
  const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8"));
  const byPkg = {};
  for (const o of Object.values(meta.outputs)) {
    for (const [file, info] of Object.entries(o.inputs ?? {})) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const pkg = m ? m[1] : file.startsWith("src/") ? "(ferry src)" : "(other)";
      byPkg[pkg] = (byPkg[pkg] ?? 0) + info.bytesInOutput;
    }
  }
  const packages = Object.entries(byPkg)
    .sort((a, b) => b[1] - a[1])
    .map(([name, bytes]) => ({ name, kib: round(bytes / 1024) }));
  const entry = uploaded.find((f) => f.endsWith(".js"));
  return { raw, gz, packages, entry, wasm: uploaded.filter((f) => f.endsWith(".wasm")) };
}

const apiOut = mkdtempSync(join(tmpdir(), "ferry-footprint-api-"));
const jobsOut = mkdtempSync(join(tmpdir(), "ferry-footprint-jobs-"));
try {
  // The API worker (wrangler.toml) is what a request starts; the jobs worker (wrangler.jobs.toml)
  // runs the queue and the cron and has no size target of its own.
  const api = build("wrangler.toml", apiOut);
  const jobs = build("wrangler.jobs.toml", jobsOut);
  const out = apiOut;

  // Both workers get the same bindings (the API's token rate limits included), so the difference
  // is ferry's own code; the control DB is migrated once, and each start gets a copy of it.
  const bindings = {
    d1Databases: ["DB", "DATA_0", "DATA_1"],
    r2Buckets: ["FILES"],
    queueProducers: { JOBS: "ferry-jobs" },
    ratelimits: {
      RL_TOKEN_CLIENT: { namespace_id: "1021", simple: { limit: 20, period: 60 } },
      RL_TOKEN_IP: { namespace_id: "1022", simple: { limit: 60, period: 60 } },
    },
    bindings: { DATA_SHARDS: "2" },
  };
  const hello = join(out, "hello.mjs");
  writeFileSync(hello, "export default { fetch() { return new Response('ok'); } };");
  // The same, answering after one query of the control DB: how much of a real route's start is
  // the local D1's own (miniflare runs it in the same workerd; on Cloudflare it is not in the isolate).
  const helloD1 = join(out, "hello-d1.mjs");
  writeFileSync(helloD1, "export default { async fetch(r, env) { await env.DB.prepare('SELECT count(*) FROM clients').all(); return new Response('ok'); } };");
  const template = mkdtempSync(join(tmpdir(), "ferry-footprint-db-"));
  {
    const mf = new Miniflare(
      convertV4MiniflareOptions({ modules: true, script: "export default {}", compatibilityDate: "2026-11-01", resourcePersistencePath: template, ...bindings }),
    );
    const db = await mf.getD1Database("DB");
    const dir = join(ROOT, "migrations", "control");
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
      const statements = readFileSync(join(dir, f), "utf8").split("--> statement-breakpoint").map((x) => x.trim()).filter(Boolean);
      await db.batch(statements.map((x) => db.prepare(x)));
    }
    await mf.dispose();
  }

  /** CPU time of this process's workerd children so far (Linux /proc), in ms; null elsewhere. */
  function workerdCpuMs() {
    let ticks = 0;
    try {
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let stat;
        try {
          stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        } catch {
          continue;
        }
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(f[1]) === process.pid && stat.includes("(workerd)")) ticks += Number(f[11]) + Number(f[12]);
      }
    } catch {
      return null;
    }
    return ticks * 10; // USER_HZ is 100 on Linux
  }

  const REAL = {
    label: "POST /api/1/oauth2/access_token, wrong credentials",
    url: "http://x/api/1/oauth2/access_token",
    init: {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: "nobody", client_secret: "wrong" }),
    },
    status: 401,
  };
  const HEALTH = { label: "GET /health", url: "http://x/health", init: undefined, status: 200 };

  // Startup: time from creating the runtime to the first answered request, median of N, and the
  // CPU workerd spent on it (less at the mercy of the machine's load than the wall clock).
  // Each start is split at workerd's spawn. Before it, miniflare works in this Node process: it
  // reads the modules and encodes them with its own workers into workerd's capnp config, a cost
  // that grows with the bundle's bytes (its single-segment arena copies itself as it grows) and
  // that no deployed Worker pays. From the spawn on, it is the runtime's start: workerd reads the
  // config, starts miniflare's services, compiles and evaluates the Worker's script (what the
  // platform's startup limit counts:
  // https://developers.cloudflare.com/workers/platform/limits/#worker-startup-time) and answers.
  // The spawn is seen by wrapping child_process.spawn, which miniflare calls through the module
  // object.
  let spawnedAt = null;
  const spawn = childProcess.spawn;
  childProcess.spawn = function (command, ...rest) {
    if (/workerd/.test(String(command))) spawnedAt = performance.now();
    return spawn.call(this, command, ...rest);
  };
  const N = QUICK ? 3 : 7;
  async function startOnce(scriptPath, first) {
    const persist = mkdtempSync(join(tmpdir(), "ferry-footprint-state-"));
    cpSync(template, persist, { recursive: true });
    try {
      const t0 = performance.now();
      spawnedAt = null;
      const mf = new Miniflare(
        convertV4MiniflareOptions({
          modulesRoot: out,
          modules: [
            { type: "ESModule", path: scriptPath },
            ...(scriptPath === hello || scriptPath === helloD1 ? [] : api.wasm.map((f) => ({ type: "CompiledWasm", path: join(out, f) }))),
          ],
          compatibilityDate: "2026-11-01",
          compatibilityFlags: ["nodejs_compat"],
          resourcePersistencePath: persist,
          ...bindings,
        }),
      );
      const r = await mf.dispatchFetch(first.url, first.init);
      await r.arrayBuffer();
      const t1 = performance.now();
      const ms = t1 - t0;
      const cpu = workerdCpuMs();
      if (spawnedAt === null) throw new Error("miniflare started no workerd process that this benchmark saw");
      const runtimeMs = t1 - spawnedAt;
      await mf.dispose();
      if (scriptPath !== hello && scriptPath !== helloD1 && r.status !== first.status) throw new Error(`${first.label}: expected ${first.status}, got ${r.status}`);
      return { ms, cpu, runtimeMs, nodeMs: spawnedAt - t0 };
    } finally {
      rmSync(persist, { recursive: true, force: true });
    }
  }
  const median = (xs) => {
    const v = xs.filter((x) => x !== null).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)] : null;
  };
  // Interleaved, so a change in the machine's load falls on all of them alike.
  const runs = { hello: [], helloD1: [], health: [], real: [] };
  for (let i = 0; i < N; i++) {
    runs.hello.push(await startOnce(hello, HEALTH));
    runs.helloD1.push(await startOnce(helloD1, HEALTH));
    runs.health.push(await startOnce(join(out, api.entry), HEALTH));
    runs.real.push(await startOnce(join(out, api.entry), REAL));
  }
  rmSync(template, { recursive: true, force: true });
  const fig = (k) => ({
    ms: round(median(runs[k].map((x) => x.ms)), 0),
    cpu: median(runs[k].map((x) => x.cpu)),
    runtimeMs: round(median(runs[k].map((x) => x.runtimeMs)), 0),
    nodeMs: round(median(runs[k].map((x) => x.nodeMs)), 0),
  });
  const helloFig = fig("hello");
  const helloD1Fig = fig("helloD1");
  const healthFig = fig("health");
  const realFig = fig("real");
  const cpuNote = (f) => (f.cpu === null ? "" : `, workerd CPU ${f.cpu} ms`);
  // Judged on the runtime's part (from workerd's spawn); the whole start, miniflare's Node side
  // included, is the row beside it.
  const startupRow = (metric, f, judged) => ({
    metric,
    value: f.runtimeMs,
    unit: "ms",
    baseline: `hello-world ${helloFig.runtimeMs} ms${cpuNote(helloFig)}; this${cpuNote(f)}`,
    ratio: round(f.runtimeMs / helloFig.runtimeMs, 2),
    ...(judged ? { target: "<= 1.2x hello-world", met: f.runtimeMs / helloFig.runtimeMs <= 1.2 } : {}),
  });
  const wholeRow = (metric, f) => ({
    metric,
    value: f.ms,
    unit: "ms",
    baseline: `hello-world ${helloFig.ms} ms (${helloFig.nodeMs} ms before workerd's spawn); this, ${f.nodeMs} ms before it`,
    ratio: round(f.ms / helloFig.ms, 2),
  });

  record("footprint", {
    startups: { hello: helloFig, helloD1: helloD1Fig, health: healthFig, real: realFig },
    raw_bytes: api.raw,
    gzip_bytes: api.gz,
    packages: api.packages,
    jobs: { raw_bytes: jobs.raw, gzip_bytes: jobs.gz, packages: jobs.packages },
    rows: [
      { metric: "API worker bundle (minified)", value: round(api.raw / 1024), unit: "KiB" },
      { metric: "API worker bundle gzipped", value: round(api.gz / 1024), unit: "KiB", target: "< 400 KB gzipped", met: api.gz < 400_000 },
      startupRow(`API worker startup to first answer of a real route: ${REAL.label} -> ${REAL.status} (median; from workerd's spawn)`, realFig, true),
      startupRow("API worker startup to first GET /health (median; from workerd's spawn; builds no route group)", healthFig, false),
      startupRow("  for comparison: hello-world answering after one D1 query (the local D1's own start; from workerd's spawn)", helloD1Fig, false),
      wholeRow(`  the same starts whole, from new Miniflare(), miniflare's Node side included: ${REAL.label}`, realFig),
      wholeRow("  the same starts whole, from new Miniflare(), miniflare's Node side included: GET /health", healthFig),
      ...api.packages.slice(0, 6).map((p) => ({ metric: `  API bundle share: ${p.name}`, value: p.kib, unit: "KiB" })),
      { metric: "jobs worker bundle gzipped", value: round(jobs.gz / 1024), unit: "KiB" },
      ...jobs.packages.slice(0, 4).map((p) => ({ metric: `  jobs bundle share: ${p.name}`, value: p.kib, unit: "KiB" })),
    ],
  });
} finally {
  rmSync(apiOut, { recursive: true, force: true });
  rmSync(jobsOut, { recursive: true, force: true });
}
