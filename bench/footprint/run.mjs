// Footprint: the API worker's size (raw and gzipped, as `wrangler deploy --dry-run` builds it),
// what each package contributes, and its startup time in workerd next to a hello-world worker
// measured in the same run; the jobs worker's size beside it. Targets (API worker): under
// 400 KB gzipped, startup within 1.2x hello-world.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
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

  // Startup: time from creating the runtime to the first answered request, median of N.
  const N = QUICK ? 3 : 7;
  const hello = join(out, "hello.mjs");
  writeFileSync(hello, "export default { fetch() { return new Response('ok'); } };");
  async function startupMs(scriptPath, bindings) {
    const times = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const mf = new Miniflare(
        convertV4MiniflareOptions({
          modulesRoot: out,
          modules: [
            { type: "ESModule", path: scriptPath },
            ...(scriptPath === hello ? [] : api.wasm.map((f) => ({ type: "CompiledWasm", path: join(out, f) }))),
          ],
          compatibilityDate: "2026-11-01",
          compatibilityFlags: ["nodejs_compat"],
          ...bindings,
        }),
      );
      const r = await mf.dispatchFetch("http://x/health");
      await r.arrayBuffer();
      times.push(performance.now() - t0);
      await mf.dispose();
    }
    times.sort((a, b) => a - b);
    return round(times[Math.floor(times.length / 2)], 0);
  }
  // Both workers get the same bindings, so the difference is ferry's own code.
  const bindings = {
    d1Databases: ["DB", "DATA_0", "DATA_1"],
    r2Buckets: ["FILES"],
    queueProducers: { JOBS: "ferry-jobs" },
    bindings: { DATA_SHARDS: "2" },
  };
  const ferryMs = await startupMs(join(out, api.entry), bindings);
  const helloMs = await startupMs(hello, bindings);

  record("footprint", {
    raw_bytes: api.raw,
    gzip_bytes: api.gz,
    packages: api.packages,
    jobs: { raw_bytes: jobs.raw, gzip_bytes: jobs.gz, packages: jobs.packages },
    rows: [
      { metric: "API worker bundle (minified)", value: round(api.raw / 1024), unit: "KiB" },
      { metric: "API worker bundle gzipped", value: round(api.gz / 1024), unit: "KiB", target: "< 400 KB gzipped", met: api.gz < 400_000 },
      {
        metric: "API worker startup to first response (median)",
        value: ferryMs,
        unit: "ms",
        baseline: `hello-world ${helloMs} ms`,
        ratio: round(ferryMs / helloMs, 2),
        target: "<= 1.2x hello-world",
        met: ferryMs / helloMs <= 1.2,
      },
      ...api.packages.slice(0, 6).map((p) => ({ metric: `  API bundle share: ${p.name}`, value: p.kib, unit: "KiB" })),
      { metric: "jobs worker bundle gzipped", value: round(jobs.gz / 1024), unit: "KiB" },
      ...jobs.packages.slice(0, 4).map((p) => ({ metric: `  jobs bundle share: ${p.name}`, value: p.kib, unit: "KiB" })),
    ],
  });
} finally {
  rmSync(apiOut, { recursive: true, force: true });
  rmSync(jobsOut, { recursive: true, force: true });
}
