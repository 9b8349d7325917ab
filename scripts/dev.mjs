// `npm run dev [-- wrangler dev args]`: prepares local state, then runs `wrangler dev`.
//  1. copies .dev.vars.example to .dev.vars when missing;
//  2. applies migrations to every local D1 database in wrangler.toml (control + data shards);
//  3. starts wrangler dev on :8787 (or the --port you pass) and says how to authenticate.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";

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

const bindings = [...readFileSync("wrangler.toml", "utf8").matchAll(/^\s*binding\s*=\s*"([^"]+)"\s*\n(?:.*\n){0,2}?\s*database_name/gm)].map(
  (m) => m[1],
);
const persist = args.includes("--persist-to") ? ["--persist-to", args[args.indexOf("--persist-to") + 1]] : [];
for (const binding of bindings) {
  const r = spawnSync("wrangler", ["d1", "migrations", "apply", binding, "--local", ...persist], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true" },
    encoding: "utf8",
  });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(r.status ?? 1);
  }
  console.log(`[ferry] migrations applied to ${binding}`);
}

const port = args.includes("--port") ? args[args.indexOf("--port") + 1] : "8787";
const devArgs = ["dev", ...(args.includes("--port") ? [] : ["--port", port]), ...args];
console.log(`[ferry] starting API on http://localhost:${port}
[ferry] authenticate with the admin token from .dev.vars:
  curl -s -X POST http://localhost:${port}/api/1/admin/tenants -H 'Authorization: Bearer ${vars.ADMIN_TOKEN ?? "<ADMIN_TOKEN>"}' -H 'Content-Type: application/json' -d '{"name":"acme"}'
[ferry] then create a client or API key for the tenant (see README.md, Quick start).`);
const child = spawn("wrangler", devArgs, { stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
