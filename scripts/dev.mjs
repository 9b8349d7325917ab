// `npm run dev [-- wrangler dev args]`: prepares local state, then runs `wrangler dev`.
//  1. copies .dev.vars.example to .dev.vars when missing;
//  2. applies migrations to every local D1 database in wrangler.toml (scripts/migrate-local.mjs);
//  3. starts wrangler dev on :8787 (or the --port you pass) with both workers, the API
//     (wrangler.toml, served on the port) and the jobs worker (wrangler.jobs.toml: queue
//     consumer, cron, toolbox) in one local runtime, and says how to authenticate;
//  4. ticks the Worker's scheduled handler at the start of every minute, as the production cron
//     trigger (`crons = ["* * * * *"]` in wrangler.toml) does: wrangler dev runs no cron
//     triggers, so it is started with --test-scheduled and GET /__scheduled is called once
//     /health answers (the API worker hands it to the jobs worker, src/api.ts). A failed tick
//     is logged and the next one still happens.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
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
  ...(args.includes("-c") || args.includes("--config") ? [] : ["-c", "wrangler.toml", "-c", jobsConfig(args)]),
  ...(argValue(args, "--port") ? [] : ["--port", port]),
  ...(args.includes("--test-scheduled") ? [] : ["--test-scheduled"]),
  ...args,
];
/**
 * The jobs worker's config for this session. wrangler dev applies `--var` (and --env-file) to the
 * first worker only, so when `--var`s are given they are written, with the .dev.vars secrets,
 * into a copy of wrangler.jobs.toml under .wrangler/ferry-dev/ (a config elsewhere does not read
 * the project's .dev.vars); without them the real file is used as it is.
 */
function jobsConfig(args) {
  const overrides = {};
  args.forEach((a, i) => {
    const v = a === "--var" ? args[i + 1] : a.startsWith("--var=") ? a.slice(6) : undefined;
    if (v?.includes(":")) overrides[v.slice(0, v.indexOf(":"))] = v.slice(v.indexOf(":") + 1);
  });
  if (Object.keys(overrides).length === 0) return "wrangler.jobs.toml";
  const all = { ...vars, ...overrides };
  const toml = readFileSync("wrangler.jobs.toml", "utf8")
    .replace(/^#:schema.*\n/m, "")
    .replace(/^main = "(.*)"$/m, (_, m) => `main = ${JSON.stringify(resolve(m))}`)
    .replace(/^migrations_dir = "(.*)"$/gm, (_, m) => `migrations_dir = ${JSON.stringify(resolve(m))}`)
    // [alias] entries that are files ("zod" = "./src/lib/zod.ts")
    .replace(/^("[^"]+") = "(\.\/.*)"$/gm, (_, k, m) => `${k} = ${JSON.stringify(resolve(m))}`)
    .replace(/^\[vars\]\n/m, `[vars]\n${Object.entries(all).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n")}\n`)
    // a key set above wins over the file's own line for it
    .split("\n")
    .filter((line, i, lines) => {
      const k = /^([A-Z_][A-Z0-9_]*) = /.exec(line)?.[1];
      return !k || !(k in all) || lines.findIndex((l) => l.startsWith(`${k} = `)) === i;
    })
    .join("\n");
  mkdirSync(".wrangler/ferry-dev", { recursive: true });
  const path = `.wrangler/ferry-dev/wrangler.jobs.${process.pid}.toml`;
  writeFileSync(path, toml);
  return path;
}

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
