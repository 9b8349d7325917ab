import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { sealTarget } from "../../src/targets/config";
import { call, setupTenant } from "../helpers";
import { bytes, control, controlJson, e, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

function sftpTarget(over: Record<string, unknown> = {}) {
  const s = servers().sftp;
  return { type: "sftp", host: s.host, port: s.port, username: s.user, password: s.password, ...over };
}

async function s3Target(over: Record<string, unknown> = {}) {
  const s = servers().s3;
  const bucket = unique("api");
  await controlJson("/s3/buckets", { name: bucket });
  return { type: "s3", endpoint: s.endpoint, region: s.region, bucket, access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey, key: "{export}/{date}/{name}", part_size_mb: 5, ...over };
}

/** A finished run whose file sits in R2, with the target sealed in the run's definition snapshot. */
async function finishedRun(tenantId: string, target: Record<string, unknown>, data: Uint8Array, exportName = "win-info") {
  const now = Math.floor(Date.parse("2026-11-20T10:00:00Z") / 1000);
  const exportId = `exp_${unique("t")}`;
  const runId = `run_${unique("t")}`;
  const definition = JSON.stringify({ name: exportName, model: "participations", target: await sealTarget(e, target as { type: string }) });
  const key = `exports/${tenantId}/${runId}/win-info.csv`;
  await e.FILES.put(key, data);
  await e.DB.batch([
    e.DB.prepare("INSERT INTO exports (id, tenant_id, name, model, status, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, 'participations', 'active', ?, 'test', ?, ?)").bind(exportId, tenantId, exportName, definition, now, now),
    e.DB.prepare(
      "INSERT INTO export_runs (id, tenant_id, export_id, status, definition, rows, bytes, file_key, file_name, content_type, created_at, finished_at) VALUES (?, ?, ?, 'finished', ?, 10, ?, ?, 'win-info.csv', 'text/csv', ?, ?)",
    ).bind(runId, tenantId, exportId, definition, data.length, key, now, now),
  ]);
  return { runId, definition };
}

async function deliverViaQueue(tenantId: string, runId: string) {
  const batch = createMessageBatch("ferry-jobs", [{ id: unique("msg"), timestamp: new Date(), attempts: 1, body: { type: "target_delivery", version: 1, tenant_id: tenantId, run_id: runId } }]);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, e, ctx);
  return getQueueResult(batch, ctx);
}

describe("POST /api/1/targets/test", () => {
  it("answers ok for a reachable target with good credentials", async () => {
    const { token } = await setupTenant("t-ok");
    const r = await call("POST", "/api/1/targets/test", { token, body: sftpTarget() });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true });
    const s3 = await call("POST", "/api/1/targets/test", { token, body: await s3Target() });
    expect(s3.json).toEqual({ ok: true });
  });

  it("explains a refusal: wrong password is a 422 with the reason and its kind", async () => {
    const { token } = await setupTenant("t-bad");
    const r = await call("POST", "/api/1/targets/test", { token, body: sftpTarget({ password: "wrong" }) });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe("unprocessable");
    expect(r.json.error.message).toMatch(/^Connection test failed: SFTP login refused for user 'ferry'/);
    expect(r.json.error.details).toEqual([{ path: "kind", message: "auth" }]);
    expect(r.json.error.request_id).toBeTruthy();
    expect(r.text).not.toContain("wrong");
  });

  it("validates the body and refuses masked secrets", async () => {
    const { token } = await setupTenant("t-val");
    const bad = await call("POST", "/api/1/targets/test", { token, body: { type: "s3", endpoint: "ftp://x", bucket: "b" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("validation_failed");
    expect(bad.json.error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(["endpoint", "access_key_id"]));
    const unknown = await call("POST", "/api/1/targets/test", { token, body: { type: "gopher" } });
    expect(unknown.status).toBe(400);
    const masked = await call("POST", "/api/1/targets/test", { token, body: sftpTarget({ password: "****" }) });
    expect(masked.status).toBe(400);
    expect(masked.json.error.message).toMatch(/Send the real password/);
  });

  it("needs the exports-manage permission", async () => {
    const { token } = await setupTenant("t-perm", ["automated-exports-view"]);
    const r = await call("POST", "/api/1/targets/test", { token, body: sftpTarget() });
    expect(r.status).toBe(403);
    const anon = await call("POST", "/api/1/targets/test", { body: sftpTarget() });
    expect(anon.status).toBe(401);
  });
});

describe("target_delivery job", () => {
  it("delivers a finished run's file to S3 (multipart), records where, and is idempotent", async () => {
    const { tenant, token } = await setupTenant("d-ok");
    const target = await s3Target();
    const data = bytes(11 * MiB + 7, 41);
    const { runId, definition } = await finishedRun(tenant.id, target, data);
    expect(definition).not.toContain(servers().s3.secretAccessKey); // encrypted at rest

    const result = await deliverViaQueue(tenant.id, runId);
    expect(result.explicitAcks.length).toBe(1);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({ run_id: runId, target_type: "s3", status: "delivered", attempts: 1, error: null, location: `s3://${target.bucket}/win-info/2026-11-20/win-info.csv` });
    expect(sameBytes(await readBack(`/s3/object?bucket=${target.bucket}&key=win-info/2026-11-20/win-info.csv`), data)).toBe(true);

    const before = ((await (await control(`/s3/log?bucket=${target.bucket}`)).json()) as unknown[]).length;
    await deliverViaQueue(tenant.id, runId); // redelivered message
    const after = ((await (await control(`/s3/log?bucket=${target.bucket}`)).json()) as unknown[]).length;
    expect(after).toBe(before);
  });

  it("delivers to SFTP and FTPS the same bytes", async () => {
    const { tenant, token } = await setupTenant("d-multi");
    const data = bytes(2 * MiB + 99, 42);
    const dir = unique("job");
    const ftps = servers().ftps;
    for (const target of [
      sftpTarget({ path: `/${dir}/{run_id}.csv` }),
      { type: "ftps", host: ftps.host, port: ftps.port, username: ftps.user, password: ftps.password, path: `/${dir}/{run_id}.csv` },
    ]) {
      const { runId } = await finishedRun(tenant.id, target, data, `to-${target.type}`);
      await deliverViaQueue(tenant.id, runId);
      const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
      expect(d.json.status, JSON.stringify(d.json)).toBe("delivered");
      expect(sameBytes(await readBack(`/file?server=${target.type}&path=${dir}/${runId}.csv`), data)).toBe(true);
    }
  });

  it("wrong credentials give a failed delivery with a clear reason, without queue retries", async () => {
    const { tenant, token } = await setupTenant("d-bad");
    const { runId } = await finishedRun(tenant.id, await s3Target({ secret_access_key: "wrong-secret" }), bytes(1000));
    const result = await deliverViaQueue(tenant.id, runId);
    expect(result.retryMessages).toEqual([]);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.json.status).toBe("failed");
    expect(d.json.error).toMatch(/SignatureDoesNotMatch.*check access_key_id and secret_access_key/);
    expect(d.text).not.toContain("wrong-secret");
  });

  it("a transient failure is recorded as retrying and handed back to the queue", async () => {
    const { tenant, token } = await setupTenant("d-retry");
    const target = await s3Target();
    await controlJson("/s3/faults", { bucket: target.bucket, op: "put_object", count: 100, kind: "error", status: 503, code: "SlowDown" });
    const { runId } = await finishedRun(tenant.id, target, bytes(1000));
    const result = await deliverViaQueue(tenant.id, runId);
    expect(result.retryMessages.length).toBe(1);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.json.status).toBe("retrying");
    expect(d.json.error).toMatch(/SlowDown/);
  });

  it("another tenant cannot see a delivery (404)", async () => {
    const a = await setupTenant("d-a");
    const b = await setupTenant("d-b");
    const { runId } = await finishedRun(a.tenant.id, sftpTarget({ path: `/${unique("iso")}.csv` }), bytes(100));
    await deliverViaQueue(a.tenant.id, runId);
    expect((await call("GET", `/api/1/targets/deliveries/${runId}`, { token: a.token })).status).toBe(200);
    expect((await call("GET", `/api/1/targets/deliveries/${runId}`, { token: b.token })).status).toBe(404);
    // and b's job message for a's run does nothing
    await deliverViaQueue(b.tenant.id, runId);
    expect((await call("GET", `/api/1/targets/deliveries/${runId}`, { token: b.token })).status).toBe(404);
  });
});

describe("target_delivery claims", () => {
  it("a second invocation while one is delivering does not upload again; it hands the message back", async () => {
    const { tenant, token } = await setupTenant("d-claim");
    const target = await s3Target();
    const { runId } = await finishedRun(tenant.id, target, bytes(1000));
    const now = Math.floor(Date.now() / 1000);
    await e.DB.prepare("INSERT INTO run_deliveries (id, tenant_id, run_id, target_type, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 's3', 'delivering', 1, ?, ?)")
      .bind(`dlv_${unique("c")}`, tenant.id, runId, now, now)
      .run();
    const result = await deliverViaQueue(tenant.id, runId);
    expect(result.retryMessages.length).toBe(1);
    expect(await (await control(`/s3/log?bucket=${target.bucket}`)).json()).toEqual([]);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.json).toMatchObject({ status: "delivering", attempts: 1 });
  });
});
