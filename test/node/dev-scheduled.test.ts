import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

/**
 * `npm run dev` runs the scheduled handler every minute by itself (scripts/dev.mjs): wrangler dev
 * has no cron triggers. The real dev script runs here with its own port and local state; an export
 * scheduled once a few seconds ahead gets its run from the next tick, and from nothing else (no
 * one calls the handler, and runs with trigger "schedule" are made only by the cron handler).
 */

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const state = mkdtempSync(join(tmpdir(), "ferry-dev-"));
let dev: ChildProcess;
let output = "";
let base = "";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tail = () => output.slice(-6000);

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (dev.exitCode !== null || dev.signalCode !== null) throw new Error(`dev script exited (${dev.exitCode ?? dev.signalCode}) while waiting for ${what}:\n${tail()}`);
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; dev output (end):\n${tail()}`);
    await sleep(1000);
  }
}

async function api(method: string, path: string, token: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

beforeAll(async () => {
  const [port, inspector] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  // Its own process group, so afterAll stops wrangler and workerd with it.
  dev = spawn(process.execPath, ["scripts/dev.mjs", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspector), "--persist-to", state], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  dev.stdout?.on("data", (d) => (output += d));
  dev.stderr?.on("data", (d) => (output += d));
  await until("GET /health", 120_000, async () => ((await fetch(`${base}/health`)).ok ? true : undefined));
}, 150_000);

afterAll(async () => {
  if (dev?.pid && dev.exitCode === null && dev.signalCode === null) {
    const exited = new Promise((r) => dev.once("exit", r));
    process.kill(-dev.pid, "SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    try {
      process.kill(-dev.pid, "SIGKILL");
    } catch {}
  }
  rmSync(state, { recursive: true, force: true });
}, 30_000);

it("runs a once-scheduled export at the next minute tick, with no one calling the scheduled handler", async () => {
  // dev.mjs made .dev.vars from .dev.vars.example when it was missing (a fresh clone).
  const admin = readFileSync(".dev.vars", "utf8").match(/^\s*ADMIN_TOKEN=(.*)$/m)?.[1]?.trim() ?? "dev-admin-token";
  const tenant = await api("POST", "/api/1/admin/tenants", admin, { name: `dev-cron-${Date.now()}` });
  const client = await api("POST", `/api/1/admin/tenants/${tenant.id}/clients`, admin, { name: "cron", permissions: ["exports-manage"] });
  const { access_token: token } = await api("POST", "/api/1/oauth2/access_token", "", {
    grant_type: "client_credentials",
    client_id: client.client_id,
    client_secret: client.client_secret,
  });

  const at = new Date(Math.ceil((Date.now() + 10_000) / 1000) * 1000);
  const exp = await api("POST", "/api/1/exports", token, {
    name: "dev-cron",
    model: "participations",
    fields: [{ from: "user_id" }],
    format: { type: "csv" },
    schedule: { type: "once", at: at.toISOString() },
  });
  expect(exp.next_run_at).toBe(at.getTime() / 1000);

  // The first tick at or after `at` makes the run: at most about 70 s from now.
  const runs = await until("a scheduled run", 150_000, async () => {
    const r = await api("GET", `/api/1/exports/${exp.id}/runs`, token);
    return r.runs.length > 0 ? r.runs : undefined;
  });
  expect(runs).toHaveLength(1);
  expect(runs[0].trigger).toBe("schedule");
  expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  expect(output).toMatch(/GET \/__scheduled/);
}, 200_000);
