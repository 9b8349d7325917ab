// Brings a control database made by the hand-written migrations of before 2026-11-26
// (migrations/control-legacy/) onto the drizzle-kit history that starts at 0000_baseline.sql,
// without touching a row: the legacy files the database lacks are applied first, then the
// record of the legacy files in `d1_migrations` is replaced by one row for 0000_baseline.sql
// (whose tables the database then has). A database that already has 0000_baseline.sql, or is
// empty, is left alone; `wrangler d1 migrations apply` does the rest.
//
//   node scripts/adopt-baseline.mjs [--remote] [--persist-to DIR]      (binding DB)
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const LEGACY_DIR = "migrations/control-legacy";
export const BASELINE = "0000_baseline.sql";

function d1(binding, where, args) {
  const r = spawnSync("wrangler", ["d1", "execute", binding, ...where, "--json", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    // node_modules/.bin first: the project's wrangler (and its Node) even outside npm.
    env: { ...process.env, CI: "true", PATH: `${resolve("node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}` },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`wrangler d1 execute ${binding} failed: ${r.stderr || r.stdout}`);
  const out = JSON.parse(r.stdout);
  return (Array.isArray(out) ? out : [out]).flatMap((x) => x.results ?? []);
}

/** Returns what it did: "baseline-present", "empty", or "adopted (+N legacy files)". */
export function adoptBaseline({ binding = "DB", where = ["--local"] } = {}) {
  const tables = d1(binding, where, ["--command", "SELECT name FROM sqlite_master WHERE type = 'table'"]).map((r) => r.name);
  if (!tables.includes("d1_migrations") || !tables.includes("tenants")) return "empty";
  const applied = new Set(d1(binding, where, ["--command", "SELECT name FROM d1_migrations"]).map((r) => r.name));
  if (applied.has(BASELINE)) return "baseline-present";
  const legacy = readdirSync(LEGACY_DIR).filter((f) => f.endsWith(".sql")).sort();
  const missing = legacy.filter((f) => !applied.has(f));
  for (const f of missing) d1(binding, where, ["--file", `${LEGACY_DIR}/${f}`]);
  const names = legacy.map((f) => `'${f}'`).join(", ");
  d1(binding, where, [
    "--command",
    `DELETE FROM d1_migrations WHERE name IN (${names}); INSERT INTO d1_migrations (name) VALUES ('${BASELINE}')`,
  ]);
  return `adopted (+${missing.length} legacy files)`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const where = args.includes("--remote") ? ["--remote"] : ["--local"];
  if (args.includes("--persist-to")) where.push("--persist-to", args[args.indexOf("--persist-to") + 1]);
  console.log(`[ferry] control DB: ${adoptBaseline({ where })}`);
}
