// `npm run dev [-- wrangler dev args]`: prepares local state, then runs `wrangler dev`.
//  1. copies .dev.vars.example to .dev.vars when missing;
//  2. applies migrations to every local D1 database in wrangler.toml (scripts/migrate-local.mjs);
//  3. starts wrangler dev on :8787 (or the --port you pass) and says how to authenticate.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { argValue, migrateLocal, toolEnv } from "./migrate-local.mjs";

const args = process.argv.slice(2);
if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("[ferry] created .dev.vars from .dev.vars.example");
}
const vars = Object.fromEntries(
  readFileSync(".dev.vars", "utf8")
    .split("\n")
    .filter((l) => /^\s*[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
);

try {
  migrateLocal({ persistTo: argValue(args, "--persist-to") });
} catch (err) {
  console.error(err.message);
  process.exit(err.status ?? 1);
}

const port = args.includes("--port") ? args[args.indexOf("--port") + 1] : "8787";
const devArgs = ["dev", ...(args.includes("--port") ? [] : ["--port", port]), ...args];
console.log(`[ferry] starting API on http://localhost:${port}
[ferry] authenticate with the admin token from .dev.vars:
  curl -s -X POST http://localhost:${port}/api/1/admin/tenants -H 'Authorization: Bearer ${vars.ADMIN_TOKEN ?? "<ADMIN_TOKEN>"}' -H 'Content-Type: application/json' -d '{"name":"acme"}'
[ferry] then create a client or API key for the tenant (see README.md, Quick start).`);
const child = spawn("wrangler", devArgs, { stdio: "inherit", env: toolEnv() });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
