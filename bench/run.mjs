// `npm run bench [-- --quick] [-- name ...]`: runs every benchmark in bench/<name>/run.mjs (or the
// named ones), then writes bench/results.json and the results table in bench/README.md.
// Each benchmark also runs alone: `npx node bench/<name>/run.mjs [--quick]`.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/harness.mjs";

const ORDER = ["footprint", "latency", "ingest", "export", "bucket-ingest"];
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));
const benchDir = join(ROOT, "bench");
const all = readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(benchDir, d.name, "run.mjs")))
  .map((d) => d.name)
  .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
const names = only.length ? all.filter((n) => only.includes(n)) : all;

const failed = [];
for (const name of names) {
  console.log(`\n== ${name}${quick ? " (quick)" : ""}`);
  const r = spawnSync(process.execPath, [join(benchDir, name, "run.mjs"), ...(quick ? ["--quick"] : [])], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) failed.push(name);
}

const results = {};
for (const name of all) {
  const f = join(benchDir, "results", `${name}.json`);
  if (existsSync(f)) results[name] = JSON.parse(readFileSync(f, "utf8"));
}
writeFileSync(join(benchDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);

const lines = [
  "| benchmark | metric | value | baseline (same run) | ratio | target | met | measured |",
  "|---|---|---|---|---|---|---|---|",
];
for (const [name, res] of Object.entries(results)) {
  for (const row of res.rows ?? []) {
    lines.push(
      `| ${name} | ${row.metric.trim()} | ${row.value} ${row.unit ?? ""} | ${row.baseline ?? ""} | ${row.ratio ?? ""} | ${row.target ?? ""} | ${row.target ? (row.met ? "yes" : "**no**") : ""} | ${res.date.slice(0, 16).replace("T", " ")}${res.quick ? " (quick)" : ""} |`,
    );
  }
}
const readme = join(benchDir, "README.md");
const text = readFileSync(readme, "utf8");
const start = "<!-- results:start -->";
const end = "<!-- results:end -->";
if (text.includes(start) && text.includes(end)) {
  writeFileSync(readme, `${text.slice(0, text.indexOf(start) + start.length)}\n${lines.join("\n")}\n${text.slice(text.indexOf(end))}`);
}
console.log(`\n${lines.join("\n")}`);
if (failed.length) {
  console.error(`\nbenchmarks that broke: ${failed.join(", ")}`);
  process.exit(1);
}
