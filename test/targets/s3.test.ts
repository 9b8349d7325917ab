import { describe, expect, it } from "vitest";
import type { S3Target } from "../../src/targets/config";
import { S3Target as S3Schema } from "../../src/targets/config";
import { objectUrl, s3Driver } from "../../src/targets/s3";
import { createServices } from "../../src/services";
import { TargetError, partRange } from "../../src/targets/types";
import { bytes, control, controlJson, ctx, deliver, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

async function bucketTarget(over: Partial<S3Target> = {}): Promise<S3Target> {
  const s = servers().s3;
  const bucket = unique("bkt");
  await controlJson("/s3/buckets", { name: bucket });
  return S3Schema.parse({
    type: "s3",
    endpoint: s.endpoint,
    region: s.region,
    bucket,
    access_key_id: s.accessKeyId,
    secret_access_key: s.secretAccessKey,
    key: "{name}",
    part_size_mb: 5,
    ...over,
  });
}

const log = async (bucket: string) => (await (await control(`/s3/log?bucket=${bucket}`)).json()) as { op: string; status: number; faulted: boolean }[];

async function failure(p: Promise<unknown>): Promise<TargetError> {
  const err = await p.then(() => null, (x) => x);
  expect(err).toBeInstanceOf(TargetError);
  return err as TargetError;
}

describe("S3 target", () => {
  it("uploads a small file in one PutObject, key from the template, bytes identical", async () => {
    const t = await bucketTarget({ key: "exports/{export}/{date}/{run_id}-{name}" });
    const data = bytes(300_000, 7);
    const r = await deliver(s3Driver, t, await putFile(data, "small.csv"), ctx("run_a"), fast);
    expect(r.location).toBe(`s3://${t.bucket}/exports/win-info/2026-11-25/run_a-small.csv`);
    const back = await readBack(`/s3/object?bucket=${t.bucket}&key=exports/win-info/2026-11-25/run_a-small.csv`);
    expect(sameBytes(back, data)).toBe(true);
    expect((await log(t.bucket)).map((l) => l.op)).toEqual(["put_object"]);
  });

  it("uploads a 12 MiB file as a multipart upload with equal 5 MiB parts, bytes identical", async () => {
    const t = await bucketTarget();
    const data = bytes(12 * MiB + 12345, 3);
    await deliver(s3Driver, t, await putFile(data, "big.bin"), ctx(), fast);
    const back = await readBack(`/s3/object?bucket=${t.bucket}&key=big.bin`);
    expect(back.length).toBe(data.length);
    expect(sameBytes(back, data)).toBe(true);
    const ops = (await log(t.bucket)).map((l) => l.op);
    expect(ops).toEqual(["create_multipart", "upload_part", "upload_part", "upload_part", "complete"]);
  });

  it("refuses a wrong secret: the proxy recomputes SigV4 and S3-style fails fast with a clear reason", async () => {
    const t = await bucketTarget({ secret_access_key: "not-the-secret" });
    const err = await failure(deliver(s3Driver, t, await putFile(bytes(1000)), ctx(), fast));
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/SignatureDoesNotMatch/);
    expect(err.message).toMatch(/secret_access_key/);
    expect((await log(t.bucket)).length).toBe(1); // no retries on 403
  });

  it("refuses an unknown access key id", async () => {
    const t = await bucketTarget({ access_key_id: "AKIAUNKNOWN" });
    const err = await failure(s3Driver.test(e, t, fast));
    expect(err.kind).toBe("auth");
  });

  it("fails fast on a missing bucket (NoSuchBucket)", async () => {
    const t = await bucketTarget();
    const err = await failure(deliver(s3Driver, { ...t, bucket: unique("nobucket") }, await putFile(bytes(1000)), ctx(), fast));
    expect(err.kind).toBe("not_found");
    expect(err.message).toMatch(/does not exist/);
  });

  it("test connection: HeadBucket succeeds with good credentials and names a missing bucket", async () => {
    const t = await bucketTarget();
    await s3Driver.test(e, t, fast);
    const err = await failure(s3Driver.test(e, { ...t, bucket: unique("nobucket") }, fast));
    expect(err.kind).toBe("not_found");
  });

  it("retries 503 SlowDown and 500 with backoff, then succeeds", async () => {
    const t = await bucketTarget();
    await controlJson("/s3/faults", { bucket: t.bucket, op: "put_object", count: 1, kind: "error", status: 503, code: "SlowDown" });
    await controlJson("/s3/faults", { bucket: t.bucket, op: "put_object", count: 1, kind: "error", status: 500, code: "InternalError" });
    const data = bytes(50_000, 9);
    await deliver(s3Driver, t, await putFile(data, "r.csv"), ctx(), fast);
    const entries = await log(t.bucket);
    expect(entries.map((l) => [l.status, l.faulted])).toEqual([
      [503, true],
      [500, true],
      [200, false],
    ]);
    expect(sameBytes(await readBack(`/s3/object?bucket=${t.bucket}&key=r.csv`), data)).toBe(true);
  });

  it("gives up after the bounded number of attempts on persistent 5xx", async () => {
    const t = await bucketTarget();
    await controlJson("/s3/faults", { bucket: t.bucket, op: "put_object", count: 100, kind: "error", status: 503, code: "SlowDown" });
    const err = await failure(deliver(s3Driver, t, await putFile(bytes(1000)), ctx(), { ...fast, attempts: 3 }));
    expect(err.kind).toBe("transient");
    expect(err.message).toMatch(/SlowDown.*gave up after 3 attempts/);
    expect((await log(t.bucket)).length).toBe(3);
  });

  it("retries a part that times out", async () => {
    const t = await bucketTarget();
    await controlJson("/s3/faults", { bucket: t.bucket, op: "upload_part", count: 1, kind: "hang" });
    const data = bytes(11 * MiB, 5);
    await deliver(s3Driver, t, await putFile(data, "slow.bin"), ctx(), { ...fast, timeoutMs: 1500 });
    const ops = (await log(t.bucket)).map((l) => `${l.op}:${l.faulted ? "fault" : l.status}`);
    expect(ops).toEqual(["create_multipart:200", "upload_part:fault", "upload_part:200", "upload_part:200", "upload_part:200", "complete:200"]);
    expect(sameBytes(await readBack(`/s3/object?bucket=${t.bucket}&key=slow.bin`), data)).toBe(true);
  });

  it("treats CompleteMultipartUpload answered 200 with an <Error> body as a failure, and aborts the upload", async () => {
    const t = await bucketTarget();
    await controlJson("/s3/faults", { bucket: t.bucket, op: "complete", count: 100, kind: "complete_error" });
    const err = await failure(deliver(s3Driver, t, await putFile(bytes(11 * MiB, 2), "x.bin"), ctx(), { ...fast, attempts: 2 }));
    expect(err.message).toMatch(/CompleteMultipartUpload.*InternalError/);
    const ops = (await log(t.bucket)).map((l) => l.op);
    // "other" is the HeadObject that checks whether an earlier try had completed the upload
    expect(ops.slice(-4)).toEqual(["complete", "complete", "other", "abort"]);
    const missing = await control(`/s3/object?bucket=${t.bucket}&key=x.bin`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });

  it("retries a 200-with-<Error> complete once and then succeeds", async () => {
    const t = await bucketTarget();
    await controlJson("/s3/faults", { bucket: t.bucket, op: "complete", count: 1, kind: "complete_error" });
    const data = bytes(10 * MiB + 1, 4);
    await deliver(s3Driver, t, await putFile(data, "y.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/s3/object?bucket=${t.bucket}&key=y.bin`), data)).toBe(true);
  });

  it("builds path-style and virtual-hosted URLs", () => {
    const base = { endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "my-bucket" };
    expect(objectUrl({ ...base, path_style: true }, "a/b c.csv").toString()).toBe("https://s3.eu-west-1.amazonaws.com/my-bucket/a/b%20c.csv");
    expect(objectUrl({ ...base, path_style: false }, "a/b c.csv").toString()).toBe("https://my-bucket.s3.eu-west-1.amazonaws.com/a/b%20c.csv");
  });
});

describe("S3 target, resumable", () => {
  it("a part sent again replaces itself; a complete whose answer was lost completes again; abort drops the upload", async () => {
    const t = await bucketTarget();
    const data = bytes(11 * MiB, 71);
    const file = await putFile(data, "again.bin");
    const s = createServices(e);
    let state = await s3Driver.begin(s, t, file, ctx(), fast);
    expect(state).toMatchObject({ part_size: 5 * MiB, sent: 0, key: "again.bin", etags: [] });
    expect(state.upload_id).toBeTruthy();
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await s3Driver.putPart(s, t, state, 1, await part(1), fast);
    const before = state;
    state = await s3Driver.putPart(s, t, before, 2, await part(2), fast);
    state = await s3Driver.putPart(s, t, before, 2, await part(2), fast);
    state = await s3Driver.putPart(s, t, state, 3, await part(3), fast);
    expect(JSON.stringify(state).length).toBeLessThan(1000); // stored in D1 between links
    await s3Driver.complete(s, t, state, fast);
    expect((await s3Driver.complete(s, t, state, fast)).location).toBe(`s3://${t.bucket}/again.bin`);
    expect(sameBytes(await readBack(`/s3/object?bucket=${t.bucket}&key=again.bin`), data)).toBe(true);
    expect((await log(t.bucket)).map((l) => l.op)).toEqual(["create_multipart", "upload_part", "upload_part", "upload_part", "upload_part", "complete", "complete", "other"]);

    const other = await s3Driver.begin(s, t, await putFile(data, "dropped.bin"), ctx(), fast);
    expect(await (await control(`/s3/uploads?bucket=${t.bucket}`)).text()).toContain(other.upload_id!);
    await s3Driver.abort(s, t, other, fast);
    await s3Driver.abort(s, t, other, fast); // already gone: fine
    const uploads = await (await control(`/s3/uploads?bucket=${t.bucket}`)).text();
    expect(uploads).not.toContain(other.upload_id!);
  });

  it("an empty file is one empty PutObject at complete", async () => {
    const t = await bucketTarget();
    const r = await deliver(s3Driver, t, await putFile(new Uint8Array(0), "empty.csv"), ctx(), fast);
    expect(r.location).toBe(`s3://${t.bucket}/empty.csv`);
    expect((await readBack(`/s3/object?bucket=${t.bucket}&key=empty.csv`)).length).toBe(0);
    expect((await log(t.bucket)).map((l) => l.op)).toEqual(["put_object"]);
  });
});
