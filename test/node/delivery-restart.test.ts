import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startS3 } from "../servers/s3";
import { type DevServer, d1Execute, devVars, startDevServer } from "./dev-server";

/**
 * A delivery survives the process that runs it being killed: an export with an S3 target (a
 * loopback s3rver behind the suite's SigV4 check, test/servers/s3.ts, running in this test's
 * process) makes a file of many 5 MiB parts; once its delivery is `delivering` with a part sent,
 * the whole dev server (wrangler and workerd) is SIGKILLed and started again on the same local
 * state. Nobody calls anything but GET: the dev server's own minute tick (scripts/dev.mjs) runs
 * the chain sweep, which resends the lost link once its lease ran out, and the upload goes on
 * where it was (the same multipart upload) until the object is complete and byte-identical to
 * the run's file.
 */

/** Wide rows (a 400-character column) so the CSV is ~55 MB: 11 parts of 5 MiB, one per chain link. */
const ROWS = 120_000;
const VARS = { ALLOW_PRIVATE_TARGETS: "true" };
const ADMIN = { Authorization: `Bearer ${devVars().ADMIN_TOKEN ?? "dev-admin-token"}`, "Content-Type": "application/json" };
const CREDS = { accessKeyId: "AKIAFERRYRESTART0001", secretAccessKey: "ferry/restart/secret/key/0123456789abcdef", region: "eu-test-1" };
const MiB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "ferry-delivery-restart-"));
let dev: DevServer | undefined;
let s3: Awaited<ReturnType<typeof startS3>> | undefined;
afterAll(async () => {
  await dev?.kill();
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
  if (s3) rmSync(s3.directory, { recursive: true, force: true });
});

async function api(path: string, init: { token?: string; body?: unknown; admin?: boolean } = {}) {
  const headers: Record<string, string> = init.admin ? { ...ADMIN } : { "Content-Type": "application/json" };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const method = init.body === undefined ? "GET" : "POST";
  const r = await fetch(`${dev!.url}${path}`, { method, headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Run {
  status: string;
  error: string | null;
  sha256: string | null;
  bytes: number;
  download_url: string | null;
  delivery: { status: string; error: string | null; location: string | null; attempts: number } | null;
}

/** Polls GET run (and nothing else) until `done`; fails with the dev server's output. */
async function poll(path: string, token: string, done: (run: Run) => boolean, timeoutMs: number, every = 250): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await api(path, { token })) as Run;
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${run.status}, delivery ${JSON.stringify(run.delivery)} after ${timeoutMs} ms\n${dev!.output().slice(-5000)}`);
    await sleep(every);
  }
}

describe("a delivery under npm run dev", () => {
  it("killed while delivering, resumes by itself after a restart and lands byte-identical", { timeout: 900_000 }, async () => {
    s3 = await startS3(CREDS);
    const bucket = "restart-exports";
    await s3.createBucket(bucket);
    const uploaded = () => s3!.log(bucket).filter((e) => e.op === "upload_part" && e.status === 200).length;
    // The script mode is `npm run dev`: it ticks the scheduled handler every minute, as production's cron does.
    dev = await startDevServer({ persistTo: dir, vars: VARS, mode: "script" });

    const tenant = await api("/api/1/admin/tenants", { admin: true, body: { name: "delivery-restart" } });
    const client = await api(`/api/1/admin/tenants/${tenant.id}/clients`, {
      admin: true,
      body: { name: "etl", permissions: ["automated-exports-view", "exports-manage", "ingest"] },
    });
    const { access_token: token } = await api("/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
    });
    const { tenants } = await api("/api/1/admin/tenants", { admin: true });
    const shard = tenants.find((t: { id: string; shard: number }) => t.id === tenant.id).shard;
    await d1Execute(
      dir,
      `DATA_${shard}`,
      `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${ROWS})
       INSERT INTO participations (tenant_id, ingested_at, user_id, stackinstanceid, stackid, value, has_won, has_completed, participation_date)
       SELECT '${tenant.id}', 1700000000, 'user-' || printf('%06d', n), 'si-' || printf('%0400d', n), 'st-' || (n % 7), n * 3, n % 2, 1,
              '2026-01-01 00:00:' || printf('%02d', n % 60)
       FROM s`,
    );
    const exp = await api("/api/1/exports", {
      token,
      body: {
        name: "delivery-restart",
        model: "participations",
        fields: ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"].map((from) => ({ from })),
        format: { type: "csv" },
        // the test starts its run itself (schedule `now` would start one more on create)
        schedule: { type: "manual" },
        target: {
          type: "s3",
          endpoint: s3.endpoint,
          region: CREDS.region,
          bucket,
          access_key_id: CREDS.accessKeyId,
          secret_access_key: CREDS.secretAccessKey,
          key: "{export}/{run_id}.csv",
          part_size_mb: 5,
        },
      },
    });

    const started = await api(`/api/1/exports/${exp.id}/runs`, { token, body: {} });
    const path = `/api/1/exports/${exp.id}/runs/${started.id}`;
    const key = `delivery-restart/${started.id}.csv`;
    // Delivering, with a part at the S3 server and the complete still far off.
    const mid = await poll(path, token, (r) => r.status === "failed" || r.delivery?.status === "delivered" || r.delivery?.status === "failed" || (r.delivery?.status === "delivering" && uploaded() >= 1), 600_000, 100);
    expect(mid.status, mid.error ?? "").toBe("finished");
    const parts = Math.ceil(mid.bytes / (5 * MiB));
    expect(parts, `the file (${mid.bytes} bytes) must have several parts`).toBeGreaterThanOrEqual(6);
    expect(mid.delivery?.status, JSON.stringify(mid.delivery)).toBe("delivering");
    await dev.kill();
    const sentBeforeKill = uploaded();
    expect(sentBeforeKill, "the delivery must be killed part-way").toBeLessThan(parts);

    dev = await startDevServer({ persistTo: dir, vars: VARS, mode: "script" });
    const after = (await api(path, { token })) as Run;
    expect(after.delivery?.status).toBe("delivering");
    // Nothing drives the delivery now but the sweep in the minute tick (lease 60 s, then the next tick).
    const done = await poll(path, token, (r) => r.delivery?.status === "delivered" || r.delivery?.status === "failed", 240_000, 1000);
    expect(done.delivery, JSON.stringify(done.delivery)).toMatchObject({ status: "delivered", error: null, location: `s3://${bucket}/${key}` });

    // The same multipart upload went on (not begun again), and the parts sent before the kill
    // were not all sent again (at most the one in flight, and one retry of it).
    const log = s3.log(bucket);
    expect(log.filter((e) => e.op === "create_multipart" && e.status === 200)).toHaveLength(1);
    expect(log.filter((e) => e.op === "complete" && e.status === 200)).toHaveLength(1);
    expect(uploaded()).toBeLessThanOrEqual(parts + 2);

    const object = await s3.getObject(bucket, key);
    expect(object.status).toBe(200);
    const u = new URL(done.download_url!);
    const file = await fetch(`${dev.url}${u.pathname}${u.search}`);
    expect(file.status).toBe(200);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(bytes.length).toBe(done.bytes);
    expect(sha256(bytes)).toBe(done.sha256);
    expect(object.body.length).toBe(bytes.length);
    expect(sha256(object.body)).toBe(sha256(bytes));
  });
});
