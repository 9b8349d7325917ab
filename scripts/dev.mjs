// `npm run dev [-- wrangler dev args]`: prepares local state, then runs `wrangler dev`.
//  1. copies .dev.vars.example to .dev.vars when missing;
//  2. applies migrations to every local D1 database in wrangler.toml (scripts/migrate-local.mjs);
//  3. starts wrangler dev on :8787 (or the --port you pass) and says how to authenticate;
//  4. ticks the Worker's scheduled handler at the start of every minute, as the production cron
//     trigger (`crons = ["* * * * *"]` in wrangler.toml) does: wrangler dev runs no cron
//     triggers, so it is started with --test-scheduled and GET /__scheduled is called once
//     /health answers. A failed tick is logged and the next one still happens.
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

const port = argValue(args, "--port") ?? "8787";
const devArgs = [
  "dev",
  ...(argValue(args, "--port") ? [] : ["--port", port]),
  ...(args.includes("--test-scheduled") ? [] : ["--test-scheduled"]),
  ...args,
];
console.log(`[ferry] starting API on http://localhost:${port}
[ferry] authenticate with the admin token from .dev.vars:
  curl -s -X POST http://localhost:${port}/api/1/admin/tenants -H 'Authorization: Bearer ${vars.ADMIN_TOKEN ?? "<ADMIN_TOKEN>"}' -H 'Content-Type: application/json' -d '{"name":"acme"}'
[ferry] then create a client or API key for the tenant (see README.md, Quick start).`);
const child = spawn("wrangler", devArgs, { stdio: "inherit", env: toolEnv() });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));

const ip = argValue(args, "--ip");
const host = !ip || ip === "0.0.0.0" || ip === "::" || ip === "*" ? "localhost" : ip.includes(":") ? `[${ip}]` : ip;
const base = `http://${host}:${port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The cron of wrangler.toml's trigger; the handler runs every due task whatever the cron. */
const CRON = "* * * * *";

async function tick() {
  // The next tick is set first, so a slow tick does not push the following ones off the minute.
  setTimeout(tick, 60_000 - (Date.now() % 60_000)).unref();
  try {
    const r = await fetch(`${base}/__scheduled?cron=${CRON.replaceAll(" ", "+")}`, { signal: AbortSignal.timeout(55_000) });
    await r.body?.cancel();
    if (!r.ok) console.error(`[ferry] scheduled tick: HTTP ${r.status}`);
  } catch (err) {
    console.error(`[ferry] scheduled tick failed: ${err?.cause?.message ?? err?.message ?? err}`);
  }
}

(async () => {
  for (;;) {
    try {
      const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
      await r.body?.cancel();
      if (r.ok) break;
    } catch {}
    await sleep(500);
  }
  console.log(`[ferry] cron: the scheduled handler runs at the start of every minute (GET ${base}/__scheduled)`);
  setTimeout(tick, 60_000 - (Date.now() % 60_000)).unref();
})();
