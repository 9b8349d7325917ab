import { describe, expect, it } from "vitest";
import { verifyWebhookSignature } from "../../src/services/webhooks";
import { call, setupTenant } from "../helpers";
import { ManualQueue, controlJson, count, createSource, e, files, gzip, newBucket, purchasesNdjson, putObject, s3Config, servers, tick, unique } from "./helpers";

const tenant = () => setupTenant("src", ["sources-manage", "ingest"]);

async function hooks(name: string): Promise<{ headers: Record<string, string>; body: string }[]> {
  const r = await fetch(`${servers().control}/webhooks?name=${name}`);
  return r.json();
}

describe("sources API", () => {
  it("creates, lists, reads, tests and deletes a source; secrets masked in every answer and sealed at rest", async () => {
    const t = await tenant();
    const bucket = await newBucket();
    const created = await createSource(t.token, s3Config(bucket, { prefix: "/exports/" }));
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ name: "bucket", status: "ok", last_error: null });
    expect(created.json.config).toMatchObject({ type: "s3", bucket, prefix: "exports/", secret_access_key: "****" });
    expect(created.text).not.toContain(servers().s3.secretAccessKey);

    const stored = await e.DB.prepare("SELECT config FROM sources WHERE id = ?1").bind(created.json.id).first<{ config: string }>();
    expect(stored!.config).not.toContain(servers().s3.secretAccessKey);
    expect(JSON.parse(stored!.config).secret_access_key).toMatch(/^v1\./);

    const list = await call("GET", "/api/1/sources", { token: t.token });
    expect(list.json.sources.map((s: { id: string }) => s.id)).toEqual([created.json.id]);
    const one = await call("GET", `/api/1/sources/${created.json.id}`, { token: t.token });
    expect(one.json.config.secret_access_key).toBe("****");
    const test = await call("POST", `/api/1/sources/${created.json.id}/test`, { token: t.token });
    expect(test.status, test.text).toBe(200);

    expect((await call("DELETE", `/api/1/sources/${created.json.id}`, { token: t.token })).status).toBe(204);
    expect((await call("GET", `/api/1/sources/${created.json.id}`, { token: t.token })).status).toBe(404);
  });

  it("refuses a source it cannot list, saying why: wrong secret, unknown bucket, bad input", async () => {
    const t = await tenant();
    const bucket = await newBucket();
    const wrong = await createSource(t.token, s3Config(bucket, { secret_access_key: "not-the-secret" }));
    expect(wrong.status).toBe(422);
    expect(wrong.json.error.message).toMatch(/SignatureDoesNotMatch.*check access_key_id and secret_access_key, and that they may list the bucket/);
    expect(wrong.json.error.details).toEqual([{ path: "kind", message: "auth" }]);

    const missing = await createSource(t.token, s3Config("no-such-bucket-here"));
    expect(missing.status).toBe(422);
    expect(missing.json.error.message).toMatch(/bucket 'no-such-bucket-here' does not exist/);

    const bad = await createSource(t.token, { type: "s3", endpoint: "ftp://x", bucket: "B", access_key_id: "a", secret_access_key: "s" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("validation_failed");
    const hookless = await createSource(t.token, s3Config(bucket), { webhook_url: "http://127.0.0.1:1/h" });
    expect(hookless.status).toBe(400);
    expect(hookless.json.error.message).toMatch(/webhook_url and webhook_secret go together/);
    expect((await call("GET", "/api/1/sources", { token: t.token })).json.sources).toEqual([]);
  });

  it("needs the sources-manage permission", async () => {
    const t = await setupTenant("src", ["ingest"]);
    const r = await call("GET", "/api/1/sources", { token: t.token });
    expect(r.status).toBe(403);
  });

  it("keeps tenants apart: another tenant's source is a 404 everywhere, and its files land in its own tables", async () => {
    const a = await tenant();
    const b = await tenant();
    const bucket = await newBucket();
    await putObject(bucket, "purchases/p.ndjson", purchasesNdjson(0, 4));
    const src = await createSource(a.token, s3Config(bucket));
    for (const [m, p] of [
      ["GET", ""],
      ["GET", "/files"],
      ["POST", "/test"],
      ["DELETE", ""],
    ] as const) {
      const r = await call(m, `/api/1/sources/${src.json.id}${p}`, { token: b.token });
      expect(r.status, `${m} ${p}`).toBe(404);
    }
    expect((await call("GET", "/api/1/sources", { token: b.token })).json.sources).toEqual([]);
    const q = new ManualQueue();
    await tick(q, a.tenant.id);
    await tick(q, b.tenant.id);
    expect(await count(a.tenant.id, "purchases")).toBe(4);
    expect(await count(b.tenant.id, "purchases")).toBe(0);
    expect((await call("GET", `/api/1/sources/${src.json.id}`, { token: a.token })).status).toBe(200);
  });
});

describe("sources: notifications", () => {
  it("marks an unreachable source with the reason and sends one signed webhook per outage; an invalid file sends one too", async () => {
    const t = await tenant();
    const bucket = await newBucket();
    await putObject(bucket, "purchases/bad.ndjson", `${purchasesNdjson(0, 2)}{oops\n`);
    const name = unique("hook");
    const secret = "whsec_0123456789abcdef";
    const src = await createSource(t.token, s3Config(bucket), { webhook_url: `${servers().control}/webhooks/${name}`, webhook_secret: secret });
    expect(src.status, src.text).toBe(201);
    expect(src.text).not.toContain(secret);

    const q = new ManualQueue();
    await tick(q, t.tenant.id);
    const invalid = await hooks(name);
    expect(invalid.map((h) => JSON.parse(h.body).type)).toEqual(["source.file.invalid"]);
    expect(JSON.parse(invalid[0]!.body).data).toMatchObject({ key: "purchases/bad.ndjson", rows_accepted: 2, rows_rejected: 1 });
    expect(await verifyWebhookSignature(secret, invalid[0]!.headers["ferry-signature"] ?? null, invalid[0]!.body)).toBe(true);

    // Credentials revoked: every listing is refused.
    await controlJson("/s3/faults", { bucket, op: "other", count: 2, kind: "error", status: 403, code: "AccessDenied" });
    await tick(q, t.tenant.id);
    await tick(q, t.tenant.id);
    const down = await call("GET", `/api/1/sources/${src.json.id}`, { token: t.token });
    expect(down.json.status).toBe("unreachable");
    expect(down.json.last_error).toMatch(/AccessDenied.*may list the bucket/);
    const after = await hooks(name);
    expect(after.map((h) => JSON.parse(h.body).type)).toEqual(["source.file.invalid", "source.unreachable"]);
    const event = JSON.parse(after[1]!.body);
    expect(event).toMatchObject({ tenant_id: t.tenant.id, data: { source_id: src.json.id, kind: "auth" } });
    expect(await verifyWebhookSignature(secret, after[1]!.headers["ferry-signature"] ?? null, after[1]!.body)).toBe(true);
    expect(await verifyWebhookSignature("another-secret-000", after[1]!.headers["ferry-signature"] ?? null, after[1]!.body)).toBe(false);

    // Back: status ok again, the reason cleared.
    await tick(q, t.tenant.id);
    const up = await call("GET", `/api/1/sources/${src.json.id}`, { token: t.token });
    expect(up.json).toMatchObject({ status: "ok", last_error: null });
    expect(up.json.stats).toEqual({ files: { pending: 0, processing: 0, completed: 1, failed: 0 }, rows_accepted: 2, rows_rejected: 1 });
    expect((await files(t.token, src.json.id)).length).toBe(1);
  });
});

describe("sources: Azure Blob", () => {
  it("lists a container with a read+list SAS and ingests its files by range", async () => {
    const t = await tenant();
    const az = servers().azure;
    const container = unique("c").toLowerCase().slice(0, 40);
    const put = async (blob: string, body: string) => {
      const r = await fetch(`${az.endpoint}/${container}/${blob}?${az.sas}`, { method: "PUT", body, headers: { "x-ms-version": "2023-11-03", "x-ms-blob-type": "BlockBlob" } });
      expect(r.status).toBe(201);
    };
    await put("purchases/date=2026-11-01/p.ndjson", purchasesNdjson(0, 30));
    await put("logins/l.csv", "user_id,level\nu1,1\nu2,2\n");
    const readList = az.sas.replace("sp=rwc", "sp=rl");
    const config = { type: "azure", endpoint: az.endpoint, container, sas_token: readList };
    const writeOnly = await createSource(t.token, { ...config, sas_token: az.sas.replace("sp=rwc", "sp=w") });
    expect(writeOnly.status).toBe(422);
    expect(writeOnly.json.error.message).toMatch(/AuthorizationPermissionMismatch/);
    const src = await createSource(t.token, config);
    expect(src.status, src.text).toBe(201);
    expect(src.json.config.sas_token).toBe("****");
    const q = new ManualQueue();
    await tick(q, t.tenant.id, { SOURCE_CHUNK_BYTES: "500" });
    await tick(q, t.tenant.id, { SOURCE_CHUNK_BYTES: "500" });
    expect(await count(t.tenant.id, "purchases")).toBe(30);
    expect(await count(t.tenant.id, "logins")).toBe(2);
  });
});

describe("sources: Google Cloud Storage", () => {
  it("lists a bucket with a service-account key (objects.list, paged) and ingests NDJSON and CSV by ranged media reads", async () => {
    const t = await tenant();
    const g = servers().gcs;
    const bucket = unique("gsrc").toLowerCase();
    await controlJson("/gcs/buckets", { name: bucket });
    const put = async (name: string, body: string | Uint8Array) => {
      const r = await fetch(`${servers().control}/gcs/objects?bucket=${bucket}&name=${encodeURIComponent(name)}`, { method: "POST", body });
      expect(r.status).toBe(200);
      await r.body?.cancel();
    };
    await put("in/purchases/date=2026-11-01/p.ndjson", purchasesNdjson(0, 30));
    await put("in/purchases/p2.jsonl.gz", await gzip(purchasesNdjson(30, 12)));
    await put("in/logins/l.csv", "user_id,level\nu1,1\nu2,2\nu3,3\n");
    await put("elsewhere/purchases/x.ndjson", purchasesNdjson(100, 5));
    const config = { type: "gcs", endpoint: g.endpoint, bucket, service_account: g.key, prefix: "in/" };

    const wrongKey = await createSource(t.token, { ...config, service_account: { ...g.key, private_key: g.wrongPrivateKey } });
    expect(wrongKey.status).toBe(422);
    expect(wrongKey.json.error.message).toMatch(/invalid_grant.*Invalid JWT Signature/);

    const src = await createSource(t.token, config);
    expect(src.status, src.text).toBe(201);
    expect(src.json.config.service_account).toMatchObject({ private_key: "****", client_email: g.key.client_email });
    const stored = await e.DB.prepare("SELECT type, config FROM sources WHERE id = ?1").bind(src.json.id).first<{ type: string; config: string }>();
    expect(stored?.type).toBe("gcs");
    expect(stored?.config).not.toContain("PRIVATE KEY");

    const q = new ManualQueue();
    // pages of 2 objects: the cursor is objects.list's nextPageToken
    await tick(q, t.tenant.id, { SOURCE_CHUNK_BYTES: "500" }, { pageSize: 2 });
    await tick(q, t.tenant.id, { SOURCE_CHUNK_BYTES: "500" }, { pageSize: 2 });
    expect(await count(t.tenant.id, "purchases")).toBe(42);
    expect(await count(t.tenant.id, "logins")).toBe(3);
    const list = await files(t.token, src.json.id);
    expect(list.map((f) => f.key).sort()).toEqual(["in/logins/l.csv", "in/purchases/date=2026-11-01/p.ndjson", "in/purchases/p2.jsonl.gz"]);
    for (const f of list) expect(f.status, `${f.key}: ${f.error}`).toBe("completed");
    const log = (await (await fetch(`${servers().control}/gcs/log?bucket=${bucket}`)).json()) as { op: string; status: number }[];
    expect(log.filter((l) => l.op === "get" && l.status === 206).length).toBeGreaterThan(3); // ranged reads, several per file

    // A rewritten object is a new generation: read again; the cron finds nothing else.
    await put("in/logins/l.csv", "user_id,level\nu4,4\n");
    await tick(q, t.tenant.id, {}, { pageSize: 2 });
    await tick(q, t.tenant.id, {}, { pageSize: 2 });
    expect(await count(t.tenant.id, "logins")).toBe(4);
    expect(await count(t.tenant.id, "purchases")).toBe(42);
  });
});
