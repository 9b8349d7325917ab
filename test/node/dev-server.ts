import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * Starts the real worker under `wrangler dev` (workerd, local D1/R2/Queues persisted in a
 * directory) for tests that need a process to kill and start again. Each server runs in its
 * own process group, so `stop` / `kill` take wrangler and its workerd child together.
 *
 *   const dev = await startDevServer({ persistTo: dir, vars: { EXPORT_CHUNK_ROWS: "50" } });
 *   await fetch(`${dev.url}/health`);
 *   await dev.kill();               // SIGKILL, as a crash would
 *   const again = await startDevServer({ persistTo: dir, ... });   // same state
 *
 * `mode: "script"` goes through `node scripts/dev.mjs` (the `npm run dev` path: it applies
 * the migrations itself); `mode: "wrangler"` applies them with `wrangler d1 migrations apply`
 * and runs `wrangler dev` directly. The default tries the script and falls back to wrangler
 * when the script does not bring a server up. Cron triggers do not fire under `wrangler dev`,
 * so servers start with `--test-scheduled`: `dev.scheduled()` runs one cron tick.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url).href);
const BIN = join(ROOT, "node_modules", ".bin");
const execFileP = promisify(execFile);

/** The local secrets `npm run dev` copies from .dev.vars.example. */
export function devVars(): Record<string, string> {
  const file = existsSync(join(ROOT, ".dev.vars")) ? ".dev.vars" : ".dev.vars.example";
  return Object.fromEntries(
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .filter((l) => /^\s*[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
  );
}

/** A TCP port nobody listens on right now (loopback). */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

/** The environment the project's npm scripts run in: node_modules/.bin first (Node 24, wrangler). */
const scriptEnv = () => ({ ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`, CI: "true", WRANGLER_SEND_METRICS: "false" });

/** `wrangler <args>` with the project's Node and wrangler; throws with its output when it fails. */
export async function wrangler(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const r = await execFileP(join(BIN, "wrangler"), args, { cwd: ROOT, env: scriptEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`wrangler ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** Applies the migrations of every D1 binding to the local state in `persistTo`. */
export async function migrateLocal(persistTo: string): Promise<void> {
  for (const binding of ["DB", "DATA_0", "DATA_1"]) {
    await wrangler(["d1", "migrations", "apply", binding, "--local", "--persist-to", persistTo]);
  }
}

/** Runs one SQL command on a local D1 database (DB, DATA_0, ...) of the state in `persistTo`. */
export const d1Execute = (persistTo: string, binding: string, command: string) =>
  wrangler(["d1", "execute", binding, "--local", "--persist-to", persistTo, "--command", command]);

export interface DevServer {
  url: string;
  port: number;
  /** wrangler's output so far, for failure messages */
  output(): string;
  /**
   * resident memory of wrangler and workerd together (the process group), in bytes; with
   * "workerd", of the group's workerd processes only (the runtime that serves the requests,
   * without wrangler's node and esbuild, whose memory comes and goes whatever the requests do)
   */
  rss(only?: "workerd"): Promise<number>;
  /** one cron tick (`/__scheduled`, enabled by --test-scheduled) */
  scheduled(): Promise<void>;
  /** SIGKILL to the whole process group: the worker dies mid-whatever, as in a crash */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL if it lingers */
  stop(): Promise<void>;
}

export interface DevServerOptions {
  persistTo: string;
  /** extra `--var NAME:value` (the worker's vars) */
  vars?: Record<string, string>;
  mode?: "auto" | "script" | "wrangler";
  /** how long to wait for /health */
  startTimeoutMs?: number;
}

function groupKill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function launch(command: string, args: string[], port: number, timeoutMs: number): Promise<DevServer> {
  const child = spawn(command, args, { cwd: ROOT, env: scriptEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr?.on("data", (d) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const url = `http://127.0.0.1:${port}`;
  const server: DevServer = {
    url,
    port,
    output: () => out,
    async rss(only) {
      const { stdout } = await execFileP("ps", ["-o", "rss=,comm=", "-g", String(child.pid)]);
      return (
        stdout
          .split("\n")
          .map((l) => l.trim().split(/\s+/))
          .filter(([, comm]) => only === undefined || comm === only)
          .reduce((sum, [kb]) => sum + (Number(kb) || 0), 0) * 1024
      );
    },
    async scheduled() {
      const r = await fetch(`${url}/__scheduled?cron=*+*+*+*+*`);
      await r.arrayBuffer();
    },
    async kill() {
      groupKill(child, "SIGKILL");
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 10_000))]);
    },
    async stop() {
      groupKill(child, "SIGTERM");
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((ok) => setTimeout(() => ok(false), 10_000))]);
      if (!done) await server.kill();
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} ${args.join(" ")} exited before serving:\n${out}`);
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.ok) return server;
    } catch {
      // not up yet
    }
    await new Promise((ok) => setTimeout(ok, 500));
  }
  await server.kill();
  throw new Error(`${command} did not answer /health on ${url} within ${timeoutMs} ms:\n${out}`);
}

/** Starts a dev server on a free port over the state in `persistTo`. */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  const port = await freePort();
  const inspector = await freePort();
  const secrets = devVars();
  // The secrets too, as vars: the direct mode must not depend on a .dev.vars file being there.
  const vars = { ADMIN_TOKEN: secrets.ADMIN_TOKEN ?? "dev-admin-token", SECRETS_KEY: secrets.SECRETS_KEY ?? "", ...o.vars };
  const devArgs = [
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspector),
    "--persist-to",
    o.persistTo,
    "--test-scheduled",
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const timeout = o.startTimeoutMs ?? 120_000;
  const mode = o.mode ?? "auto";
  if (mode !== "wrangler") {
    try {
      return await launch(join(BIN, "node"), [join(ROOT, "scripts", "dev.mjs"), ...devArgs], port, timeout);
    } catch (err) {
      if (mode === "script") throw err;
      console.warn(`[dev-server] scripts/dev.mjs did not start a server; starting wrangler dev directly: ${(err as Error).message.slice(0, 2000)}`);
    }
  }
  await migrateLocal(o.persistTo);
  return launch(join(BIN, "wrangler"), ["dev", "-c", "wrangler.toml", "-c", "wrangler.jobs.toml", ...devArgs], port, timeout);
}
