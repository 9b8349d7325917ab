import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DevServer, d1Execute, devVars, startDevServer } from "./dev-server";

/**
 * The export run survives the process that runs it being killed: a CSV run of many chain links
 * is started under `wrangler dev`, the whole dev server (wrangler and workerd) is SIGKILLed
 * while the run is between 20 % and 80 %, a new dev server is started on the same local state,
 * and the run finishes by itself (the cron sweep resends its lost link once the lease ran out)
 * into the same bytes as an uninterrupted run of the same definition.
 */

const ROWS = 30_000;
/** Small chunks and one step per link: the run takes many links (queue messages). */
const VARS = { EXPORT_CHUNK_ROWS: "50", EXPORT_STEPS_PER_MESSAGE: "1" };
const ADMIN = { Authorization: `Bearer ${devVars().ADMIN_TOKEN ?? "dev-admin-token"}`, "Content-Type": "application/json" };

const dir = mkdtempSync(join(tmpdir(), "ferry-restart-"));
let dev: DevServer | undefined;
afterAll(async () => {
  await dev?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function api(path: string, init: { method?: string; token?: string; body?: unknown; admin?: boolean } = {}) {
  const headers: Record<string, string> = init.admin ? { ...ADMIN } : { "Content-Type": "application/json" };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const r = await fetch(`${dev!.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Polls the run until `done` says so, calling the cron every ~20 s (wrangler dev has no cron of its own). */
async function pollRun(path: string, token: string, done: (run: { status: string; progress: number }) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let lastTick = Date.now();
  for (;;) {
    const run = await api(path, { token });
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run still ${run.status} at ${run.progress} after ${timeoutMs} ms\n${dev!.output().slice(-5000)}`);
    if (Date.now() - lastTick > 20_000) {
      await dev!.scheduled();
      lastTick = Date.now();
    }
    await sleep(200);
  }
}

async function downloadSha(url: string): Promise<string> {
  const u = new URL(url);
  const r = await fetch(`${dev!.url}${u.pathname}${u.search}`);
  expect(r.status).toBe(200);
  return createHash("sha256")
    .update(Buffer.from(await r.arrayBuffer()))
    .digest("hex");
}

describe("an export run under wrangler dev", () => {
  it("finishes by itself after the dev server is killed mid-run and started again, with the bytes of an uninterrupted run", { timeout: 900_000 }, async () => {
    dev = await startDevServer({ persistTo: dir, vars: VARS });

    const tenant = await api("/api/1/admin/tenants", { admin: true, body: { name: "restart" } });
    const client = await api(`/api/1/admin/tenants/${tenant.id}/clients`, {
      admin: true,
      body: { name: "etl", permissions: ["automated-exports-view", "exports-manage", "ingest"] },
    });
    const { access_token: token } = await api("/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
    });
    const { tenants } = await api("/api/1/admin/tenants", { admin: true });
    const shard = tenants.find((t: { id: string; shard: number }) => t.id === tenant.id).shard;
    // Rows straight into the tenant's shard (as test/exports-run/helpers.ts seeds them).
    await d1Execute(
      dir,
      `DATA_${shard}`,
      `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${ROWS})
       INSERT INTO participations (tenant_id, ingested_at, user_id, stackinstanceid, stackid, value, has_won, has_completed, participation_date)
       SELECT '${tenant.id}', 1700000000, 'user-' || printf('%06d', n), 'si-' || (n % 97), 'st-' || (n % 7), n * 3, n % 2, 1,
              '2026-01-01 00:00:' || printf('%02d', n % 60)
       FROM s`,
    );
    const exp = await api("/api/1/exports", {
      token,
      body: {
        name: "restart",
        model: "participations",
        fields: ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"].map((from) => ({ from })),
        format: { type: "csv" },
        // the test starts its runs itself (schedule `now` would start one more on create)
        schedule: { type: "manual" },
      },
    });

    const first = await api(`/api/1/exports/${exp.id}/runs`, { token, body: {} });
    const firstPath = `/api/1/exports/${exp.id}/runs/${first.id}`;
    const mid = await pollRun(firstPath, token, (r) => (r.progress >= 0.2 && r.progress <= 0.8) || r.status === "finished" || r.status === "failed", 300_000);
    expect(mid.status, "the run must still be running when the server is killed").toBe("processing");
    await dev.kill();

    dev = await startDevServer({ persistTo: dir, vars: VARS });
    const before = await api(firstPath, { token });
    expect(before.status).toBe("processing");
    // Nothing drives the run now but the chain's sweep (lease 60 s, then the next cron tick).
    const resumed = await pollRun(firstPath, token, (r) => r.status === "finished" || r.status === "failed", 180_000);
    expect(resumed.status, resumed.error).toBe("finished");
    expect(resumed.rows).toBe(ROWS);

    const second = await api(`/api/1/exports/${exp.id}/runs`, { token, body: {} });
    const plain = await pollRun(`/api/1/exports/${exp.id}/runs/${second.id}`, token, (r) => r.status === "finished" || r.status === "failed", 300_000);
    expect(plain.status, plain.error).toBe("finished");

    const [a, b] = [await downloadSha(resumed.download_url), await downloadSha(plain.download_url)];
    expect(a).toBe(resumed.sha256);
    expect(b).toBe(plain.sha256);
    expect(a).toBe(b);
  });
});
