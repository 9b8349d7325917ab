// `npm run bench [-- --quick] [-- name ...]`: runs every benchmark in bench/<name>/run.mjs (or the
// named ones), then merges their results into bench/results.json and rewrites the results table in
// bench/README.md. Full and quick runs are kept apart (`{ "<name>": { full, quick } }`): a quick run
// replaces only the quick rows of what it ran, never the standing figures of a full run, and a
// benchmark that did not run keeps its rows. Each benchmark also runs alone:
// `npx node bench/<name>/run.mjs [--quick]` (then `npm run bench` merges nothing of it).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/harness.mjs";

const ORDER = ["footprint", "latency", "ingest", "export", "bucket-ingest"];
const args = process.argv.slice(2);
const quick = args.includes("--quick");
// `--table`: run nothing, rewrite the README table from bench/results.json.
const tableOnly = args.includes("--table");
const only = args.filter((a) => !a.startsWith("--"));
const benchDir = join(ROOT, "bench");
const all = readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(benchDir, d.name, "run.mjs")))
  .map((d) => d.name)
  .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
const names = only.length ? all.filter((n) => only.includes(n)) : all;

const failed = [];
const ran = [];
for (const name of tableOnly ? [] : names) {
  console.log(`\n== ${name}${quick ? " (quick)" : ""}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(benchDir, name, "run.mjs"), ...(quick ? ["--quick"] : [])], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) failed.push(name);
  else ran.push({ name, started });
}

/** results.json as `{ name: { full?, quick? } }`; an older file (`{ name: result }`) is read into that shape. */
function readResults() {
  const f = join(benchDir, "results.json");
  if (!existsSync(f)) return {};
  const old = JSON.parse(readFileSync(f, "utf8"));
  return Object.fromEntries(
    Object.entries(old).map(([name, v]) => [name, typeof v?.full === "object" || typeof v?.quick === "object" ? v : { [v?.quick ? "quick" : "full"]: v }]),
  );
}

const results = readResults();
for (const { name, started } of ran) {
  const f = join(benchDir, "results", `${name}${quick ? ".quick" : ""}.json`);
  if (!existsSync(f)) continue;
  const res = JSON.parse(readFileSync(f, "utf8"));
  // Only what this invocation measured: a file left by an earlier run is not merged again.
  if (Date.parse(res.date) < started) continue;
  results[name] = { ...results[name], [quick ? "quick" : "full"]: res };
}
writeFileSync(join(benchDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);

const lines = [
  "| benchmark | run | metric | value | baseline (same run) | ratio | target | met | load (1 min) | measured |",
  "|---|---|---|---|---|---|---|---|---|---|",
];
for (const [name, kinds] of Object.entries(results)) {
  for (const kind of ["full", "quick"]) {
    const res = kinds[kind];
    for (const row of res?.rows ?? []) {
      const load = row.load ?? res.load1;
      lines.push(
        `| ${name} | ${kind} | ${row.metric.trim()} | ${row.value} ${row.unit ?? ""} | ${row.baseline ?? ""} | ${row.ratio ?? ""} | ${row.target ?? ""} | ${row.target ? (row.met ? "yes" : "**no**") : ""} | ${load ?? "not recorded"} | ${res.date.slice(0, 16).replace("T", " ")} |`,
      );
    }
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
