import { describe, expect, it } from "vitest";
import { type ChainMessage, MAX_ATTEMPTS, handleChainMessage, startChainNow } from "../../src/chain";
import { fastDriver, finishedRun, harness } from "../deliveries/helpers";
import { call, setupTenant } from "../helpers";
import { bytes, control, controlJson, gcsTarget, readBack, sameBytes, servers, unique } from "./helpers";

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

  it("gcs: a good service-account key is ok (a session started and cancelled); a wrong one is a 422 naming the token endpoint's reason", async () => {
    const { token } = await setupTenant("t-gcs");
    const g = servers().gcs;
    const { bucket } = await gcsTarget();
    // the key file pasted as Google writes it
    const body = { type: "gcs", endpoint: g.endpoint, bucket, service_account: g.key };
    const ok = await call("POST", "/api/1/targets/test", { token, body });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toEqual({ ok: true });
    const bad = await call("POST", "/api/1/targets/test", { token, body: { ...body, service_account: { ...g.key, private_key: g.wrongPrivateKey } } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toMatch(/^Connection test failed: .*refused the service account key of .*invalid_grant \(Invalid JWT Signature\.\)/);
    expect(bad.json.error.details).toEqual([{ path: "kind", message: "auth" }]);
    expect(bad.text).not.toContain("PRIVATE KEY");
    const masked = await call("POST", "/api/1/targets/test", { token, body: { ...body, service_account: { ...g.key, private_key: "****" } } });
    expect(masked.status).toBe(400);
    expect(masked.json.error.message).toMatch(/Send the real service_account\.private_key/);
    const notPem = await call("POST", "/api/1/targets/test", { token, body: { ...body, service_account: { ...g.key, private_key: "hunter2" } } });
    expect(notPem.status).toBe(400);
    expect(notPem.json.error.details.map((d: { path: string }) => d.path)).toContain("service_account.private_key");
  });

  it("needs the exports-manage permission", async () => {
    const { token } = await setupTenant("t-perm", ["automated-exports-view"]);
    const r = await call("POST", "/api/1/targets/test", { token, body: sftpTarget() });
    expect(r.status).toBe(403);
    const anon = await call("POST", "/api/1/targets/test", { body: sftpTarget() });
    expect(anon.status).toBe(401);
  });
});

describe("delivery chain", () => {
  it("delivers a finished run's file to S3 (multipart), records where, and a repeated message uploads nothing", async () => {
    const { tenant, token } = await setupTenant("d-ok");
    const target = await s3Target();
    const data = bytes(11 * MiB + 7, 41);
    const { runId, definition } = await finishedRun(tenant.id, target, data);
    expect(definition).not.toContain(servers().s3.secretAccessKey); // encrypted at rest

    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    const first = h.sent.map((x) => x.msg)[0] as ChainMessage;
    expect(await h.drive(runId)).toBe(5); // begin, 3 parts, complete
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({ run_id: runId, target_type: "s3", status: "delivered", attempts: 0, error: null, location: `s3://${target.bucket}/win-info/2026-11-20/win-info.csv` });
    expect(sameBytes(await readBack(`/s3/object?bucket=${target.bucket}&key=win-info/2026-11-20/win-info.csv`), data)).toBe(true);
    expect((await h.chain(runId))?.status).toBe("done");

    const before = ((await (await control(`/s3/log?bucket=${target.bucket}`)).json()) as unknown[]).length;
    await handleChainMessage(h.s, h.jobs, first); // the first message, delivered again
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId }); // and the chain started again
    await h.drive(runId);
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
      const h = harness({ driver: { ...fastDriver, partBytes: MiB } });
      await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
      expect(await h.drive(runId)).toBe(5); // begin, 3 parts of 1 MiB, complete
      const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
      expect(d.json.status, JSON.stringify(d.json)).toBe("delivered");
      expect(sameBytes(await readBack(`/file?server=${target.type}&path=${dir}/${runId}.csv`), data)).toBe(true);
    }
  });

  it("wrong credentials end the delivery as failed with a clear reason, without retries", async () => {
    const { tenant, token } = await setupTenant("d-bad");
    const { runId } = await finishedRun(tenant.id, await s3Target({ secret_access_key: "wrong-secret" }), bytes(1000));
    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    expect(await h.drive(runId)).toBe(2); // begin (plans a single PutObject), part 1 refused
    expect(h.sent.filter((x) => x.delaySeconds)).toEqual([]);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.json.status).toBe("failed");
    expect(d.json.error).toMatch(/SignatureDoesNotMatch.*check access_key_id and secret_access_key/);
    expect(d.text).not.toContain("wrong-secret");
    expect(await h.chain(runId)).toMatchObject({ status: "failed", attempts: 0 });
  });

  it(`a transient failure is shown as retrying and retried with backoff; after ${MAX_ATTEMPTS} attempts it is failed, visibly`, async () => {
    const { tenant, token } = await setupTenant("d-retry");
    const target = await s3Target();
    await controlJson("/s3/faults", { bucket: target.bucket, op: "put_object", count: 100, kind: "error", status: 503, code: "SlowDown" });
    const { runId } = await finishedRun(tenant.id, target, bytes(1000));
    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    await handleChainMessage(h.s, h.jobs, h.take(runId)[0]!); // begin
    await handleChainMessage(h.s, h.jobs, h.take(runId)[0]!); // part 1 fails (after the driver's own 2 tries)
    const [retry] = h.take(runId);
    expect(h.sent).toEqual([]);
    const d = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(d.json).toMatchObject({ status: "retrying", attempts: 1 });
    expect(d.json.error).toMatch(/SlowDown/);
    await handleChainMessage(h.s, h.jobs, retry!);
    await h.drive(runId);
    const end = await call("GET", `/api/1/targets/deliveries/${runId}`, { token });
    expect(end.json).toMatchObject({ status: "failed", attempts: MAX_ATTEMPTS });
    expect(end.json.error).toMatch(new RegExp(`SlowDown.*gave up after ${MAX_ATTEMPTS} attempts`));
    expect((await h.chain(runId))?.status).toBe("failed");
  });

  it("another tenant cannot see a delivery (404), nor start one for a run that is not theirs", async () => {
    const a = await setupTenant("d-a");
    const b = await setupTenant("d-b");
    const { runId } = await finishedRun(a.tenant.id, sftpTarget({ path: `/${unique("iso")}.csv` }), bytes(100));
    const h = harness();
    // b first: a chain under b's tenant finds no such run and ends without writing anything
    await startChainNow(h.s, { kind: "delivery", tenantId: b.tenant.id, subjectId: runId });
    await h.drive(runId);
    expect((await call("GET", `/api/1/targets/deliveries/${runId}`, { token: a.token })).status).toBe(404);
    expect((await call("GET", `/api/1/targets/deliveries/${runId}`, { token: b.token })).status).toBe(404);
    expect(await h.chain(runId)).toMatchObject({ status: "failed", tenant_id: b.tenant.id, last_error: `run ${runId} no longer exists` });
  });
});
