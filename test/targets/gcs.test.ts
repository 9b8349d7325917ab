import { describe, expect, it } from "vitest";
import { targetFieldSpecs } from "../../src/backoffice/catalog";
import { MASK, maskSecrets, sealSecrets } from "../../src/lib/secrets";
import { createServices, fixedClock } from "../../src/services";
import { DeliveryTarget, type GcsTarget } from "../../src/targets/config";
import { GCS_CHUNK_MULTIPLE, accessToken, gcsDriver } from "../../src/targets/gcs";
import { TargetError, UploadRestart, partRange } from "../../src/targets/types";
import { bytes, control, controlJson, ctx, deliver, e, fast, gcsTarget, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

const log = async (bucket: string) => (await (await control(`/gcs/log?bucket=${bucket}`)).json()) as { op: string; status: number; detail?: string }[];
const ops = async (bucket: string) => (await log(bucket)).map((l) => `${l.op}:${l.status}`);
const openSessions = async (bucket: string) => ((await (await control(`/gcs/sessions?bucket=${bucket}`)).json()) as { open: number }).open;

describe("gcs target (loopback stand-in, not Google itself)", () => {
  it("a multi-chunk file goes up as one resumable upload, 1 MiB per chunk, and lands byte-identical", async () => {
    const t = await gcsTarget({ object: "daily/{date}/{name}" });
    const data = bytes(3 * MiB + 5, 51);
    const r = await deliver(gcsDriver, t, await putFile(data, "a.csv"), ctx(), fast);
    expect(r.location).toBe(`gs://${t.bucket}/daily/2026-11-25/a.csv`);
    expect(r.state).toMatchObject({ size: data.length, part_size: MiB, sent: data.length, object: "daily/2026-11-25/a.csv", content_type: "text/csv" });
    expect(r.state.session).toMatch(/^v1\./); // the session URI is a credential: sealed in the state
    expect(sameBytes(await readBack(`/gcs/object?bucket=${t.bucket}&name=daily/2026-11-25/a.csv`), data)).toBe(true);
    // each chunk after a status query (a link cannot know whether an earlier try sent it); the last one creates the object
    expect(await ops(t.bucket)).toEqual([
      "create_session:200",
      ...Array.from({ length: 3 }, () => ["status:308", "chunk:308"]).flat(),
      "status:308",
      "chunk:200",
      "status:200", // complete: the object exists
    ]);
    expect(MiB % GCS_CHUNK_MULTIPLE).toBe(0);
  });

  it("an empty file is created at complete", async () => {
    const t = await gcsTarget();
    await deliver(gcsDriver, t, await putFile(new Uint8Array(0), "empty.csv"), ctx(), fast);
    expect((await readBack(`/gcs/object?bucket=${t.bucket}&name=empty.csv`)).length).toBe(0);
  });

  it("a chunk Google kept only part of is completed from where Google stopped", async () => {
    const t = await gcsTarget();
    await controlJson("/gcs/faults", { bucket: t.bucket, op: "chunk", count: 1, status: 308, keep: 256 * 1024 });
    const data = bytes(2 * MiB + 100, 52);
    await deliver(gcsDriver, t, await putFile(data, "p.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/gcs/object?bucket=${t.bucket}&name=p.bin`), data)).toBe(true);
    expect((await log(t.bucket)).filter((l) => l.op === "chunk").map((l) => l.detail ?? String(l.status))).toEqual(["partial", "308", "308", "final"]);
  });

  it("a 503 on a chunk: asks where the session stands and sends it again", async () => {
    const t = await gcsTarget();
    await controlJson("/gcs/faults", { bucket: t.bucket, op: "chunk", count: 2, status: 503 });
    const data = bytes(2 * MiB + 7, 53);
    await deliver(gcsDriver, t, await putFile(data, "r.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/gcs/object?bucket=${t.bucket}&name=r.bin`), data)).toBe(true);
    expect((await ops(t.bucket)).slice(0, 7)).toEqual(["create_session:200", "status:308", "chunk:503", "status:308", "chunk:503", "status:308", "chunk:308"]);
  });

  it("a wrong private key: the token endpoint refuses the JWT's signature; a clear auth error, no upload begun", async () => {
    const g = servers().gcs;
    const t = await gcsTarget({ service_account: { ...g.key, private_key: g.wrongPrivateKey } });
    const err = await deliver(gcsDriver, t, await putFile(bytes(10)), ctx(), fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/refused the service account key of ferry-delivery@.*400 invalid_grant \(Invalid JWT Signature\.\); check that the key file/);
    expect(await log(t.bucket)).toEqual([]);
  });

  it("a key that is not a PKCS#8 PEM is a config error naming the field", async () => {
    const t = await gcsTarget();
    const broken = { ...t, service_account: { ...t.service_account, private_key: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n" } };
    const err = await gcsDriver.test(e, broken, fast).then(() => null, (x) => x);
    expect(err).toMatchObject({ kind: "config" });
    expect(err.message).toMatch(/service_account\.private_key is not a PKCS#8 RSA private key/);
  });

  it("a missing bucket is not_found", async () => {
    const t = await gcsTarget();
    const err = await gcsDriver.test(e, { ...t, bucket: "no-such-bucket-here" }, fast).then(() => null, (x) => x);
    expect(err).toMatchObject({ kind: "not_found" });
    expect(err.message).toMatch(/404 notFound.*check that bucket 'no-such-bucket-here' exists/);
  });

  it("the stand-in refuses a bearer token it did not issue (401), as Google does", async () => {
    const t = await gcsTarget();
    const r = await fetch(`${t.endpoint}/storage/v1/b/${t.bucket}/o`, { headers: { authorization: "Bearer ya29.not-issued-here" } });
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]?.reason).toBe("authError");
  });

  it("test connection starts an upload session and cancels it: nothing is left", async () => {
    const t = await gcsTarget();
    await gcsDriver.test(e, t, fast);
    expect(await ops(t.bucket)).toEqual(["create_session:200", "cancel:499"]);
    expect(await openSessions(t.bucket)).toBe(0);
    const r = await control(`/gcs/object?bucket=${t.bucket}&name=.ferry-connection-test`);
    expect(r.status).toBe(404);
    await r.body?.cancel();
  });

  it("the private key is sealed at rest and masked when read back; the rest of the key file is kept as is", async () => {
    const t = await gcsTarget();
    const sealed = await sealSecrets(createServices(e).secrets, DeliveryTarget, t);
    expect(JSON.stringify(sealed)).not.toContain("PRIVATE KEY");
    expect((sealed as GcsTarget).service_account.private_key).toMatch(/^v1\./);
    expect((sealed as GcsTarget).service_account.client_email).toBe(t.service_account.client_email);
    expect(maskSecrets(DeliveryTarget, sealed)).toMatchObject({ service_account: { private_key: MASK, private_key_id: t.service_account.private_key_id } });
    // the key file's other fields (client_id, auth_uri, ...) are dropped, not stored
    expect(Object.keys(t.service_account).sort()).toEqual(["client_email", "private_key", "private_key_id", "project_id", "token_uri", "type"]);
  });
});

describe("gcs in the back office wizard", () => {
  it("offers the key file as one JSON field (a textarea), the other fields as usual", () => {
    const specs = targetFieldSpecs().gcs!;
    expect(specs.map((f) => f.name)).toEqual(["bucket", "service_account", "object", "chunk_size_mb", "endpoint"]);
    expect(specs.find((f) => f.name === "service_account")).toMatchObject({ type: "json", multiline: true, required: true });
    expect(specs.find((f) => f.name === "endpoint")).toMatchObject({ type: "string", required: false, default: "https://storage.googleapis.com" });
  });
});

describe("gcs access tokens", () => {
  it("are cached until five minutes before they expire, then exchanged again", async () => {
    const t = await gcsTarget();
    // a key of its own (another key id in the cache key), so no other test shares the cache entry
    const sa = { ...t.service_account, project_id: unique("p") };
    // starts 55 minutes back, so the renewal happens now: the stand-in checks iat against its own clock
    const clock = fixedClock(Date.now() - 3300_000);
    const opts = { ...fast, now: clock.now };
    const first = await accessToken(e, sa, opts, true);
    expect(first.cached).toBe(false);
    expect(await accessToken(e, sa, opts)).toEqual({ token: first.token, cached: true });
    clock.advance(3599 - 5 * 60 - 1);
    expect((await accessToken(e, sa, opts)).cached).toBe(true);
    clock.advance(2);
    const renewed = await accessToken(e, sa, opts);
    expect(renewed.cached).toBe(false);
    expect(renewed.token).not.toBe(first.token);
  });
});

describe("gcs target, resumable", () => {
  it("a chunk sent again by a link that died after sending it is not sent twice: the status query finds it", async () => {
    const t = await gcsTarget();
    const data = bytes(3 * MiB + 11, 54);
    const file = await putFile(data, "again.bin");
    const s = createServices(e);
    let state = await gcsDriver.begin(s, t, file, ctx(), fast);
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await gcsDriver.putPart(s, t, state, 1, await part(1), fast);
    const before = state;
    state = await gcsDriver.putPart(s, t, before, 2, await part(2), fast);
    const again = await gcsDriver.putPart(s, t, before, 2, await part(2), fast); // the recorded state is still `before`
    expect(again.sent).toBe(state.sent);
    for (const n of [3, 4]) state = await gcsDriver.putPart(s, t, state, n, await part(n), fast);
    await gcsDriver.complete(s, t, state, fast);
    await gcsDriver.complete(s, t, state, fast); // a lost answer: completing again finds the object
    expect(sameBytes(await readBack(`/gcs/object?bucket=${t.bucket}&name=again.bin`), data)).toBe(true);
    expect((await log(t.bucket)).filter((l) => l.op === "chunk").length).toBe(4);
  });

  it("a cancelled (or expired) session restarts the upload", async () => {
    const t = await gcsTarget();
    const file = await putFile(bytes(2 * MiB, 55), "gone.bin");
    const s = createServices(e);
    const state = await gcsDriver.begin(s, t, file, ctx(), fast);
    await gcsDriver.abort(s, t, state, fast);
    const chunk = new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, 1) }))!.arrayBuffer());
    const err = await gcsDriver.putPart(s, t, state, 1, chunk, fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(UploadRestart);
    expect(err.message).toMatch(/session of gone\.bin is gone \(499\)/);
  });
});
