// Footprint: the built worker's size (raw and gzipped, as `wrangler deploy --dry-run` builds it),
// what each package contributes, and its startup time in workerd next to a hello-world worker
// measured in the same run. Target: under 400 KB gzipped.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { QUICK, ROOT, record, round } from "../lib/harness.mjs";

const out = mkdtempSync(join(tmpdir(), "ferry-footprint-"));
try {
  execFileSync("wrangler", ["deploy", "--dry-run", "--minify", "--outdir", out, "--metafile", join(out, "meta.json")], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  // The upload is index.js plus any module it imports (ssh2's precompiled poly1305.wasm).
  const uploaded = readdirSync(out).filter((f) => f !== "meta.json" && !f.endsWith(".map"));
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
            ...(scriptPath === hello ? [] : uploaded.filter((f) => f.endsWith(".wasm")).map((f) => ({ type: "CompiledWasm", path: join(out, f) }))),
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
    queueProducers: { JOBS: "ferry-jobs", JOBS_DLQ: "ferry-jobs-dlq" },
    bindings: { DATA_SHARDS: "2" },
  };
  const ferryMs = await startupMs(join(out, "index.js"), bindings);
  const helloMs = await startupMs(hello, bindings);

  record("footprint", {
    raw_bytes: raw,
    gzip_bytes: gz,
    packages,
    rows: [
      { metric: "bundle (minified)", value: round(raw / 1024), unit: "KiB" },
      { metric: "bundle gzipped", value: round(gz / 1024), unit: "KiB", target: "< 400 KB gzipped", met: gz < 400_000 },
      {
        metric: "startup to first response (median)",
        value: ferryMs,
        unit: "ms",
        baseline: `hello-world ${helloMs} ms`,
        ratio: round(ferryMs / helloMs, 2),
      },
      ...packages.slice(0, 6).map((p) => ({ metric: `  bundle share: ${p.name}`, value: p.kib, unit: "KiB" })),
    ],
  });
} finally {
  rmSync(out, { recursive: true, force: true });
}
