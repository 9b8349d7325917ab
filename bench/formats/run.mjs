// `npx node bench/formats/run.mjs [--quick]`: formatter + compressor throughput per format, in rows
// per CPU second (process.cpuUsage, so other load on the machine matters less than wall time).
// No D1, R2 or queue: the chain is measured by bench/export.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { QUICK, ROOT, record } from "../lib/harness.mjs";

const out = join(ROOT, ".wrangler", "bench", "formats.mjs");
mkdirSync(join(ROOT, ".wrangler", "bench"), { recursive: true });
await build({
  entryPoints: [join(ROOT, "bench", "formats", "bench.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  outfile: out,
  logLevel: "error",
});
const { run } = await import(pathToFileURL(out).href);
const n = QUICK ? 20_000 : 200_000;
const chunk = 5_000;
const results = run(n, chunk);
for (const r of results) console.log(JSON.stringify(r));
record("formats", {
  rowsPerExport: n,
  rowsPerCall: chunk,
  columns: 8,
  results,
  rows: results.map((r) => ({ metric: `${r.config} rows per CPU second`, value: r.rowsPerCpuSecond, unit: "rows/s" })),
});
