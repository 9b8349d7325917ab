import { describe, expect, it } from "vitest";
import { azureDriver } from "../../src/targets/azure";
import { AzureTarget } from "../../src/targets/config";
import { createServices } from "../../src/services";
import { TargetError, UploadRestart, partRange } from "../../src/targets/types";
import { bytes, control, controlJson, ctx, deliver, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

function target(over: Record<string, unknown> = {}): AzureTarget {
  const s = servers().azure;
  // blob "{name}": these tests read the blob back by the file's name (the default is unique per run, test/targets/unique-names.test.ts)
  return AzureTarget.parse({ type: "azure", endpoint: s.endpoint, container: unique("c"), sas_token: `?${s.sas}`, block_size_mb: 2, blob: "{name}", ...over });
}

const log = async (container: string) => (await (await control(`/azure/log?container=${container}`)).json()) as { op: string; status: number }[];

describe("azure target (loopback stand-in, not Azure itself)", () => {
  it("uploads a small file with Put Blob", async () => {
    const t = target({ blob: "daily/{date}/{name}" });
    const data = bytes(100_000, 31);
    const r = await deliver(azureDriver, t, await putFile(data, "a.csv"), ctx(), fast);
    expect(r.location).toBe(`${t.endpoint}/${t.container}/daily/2026-11-25/a.csv`);
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=daily/2026-11-25/a.csv`), data)).toBe(true);
    expect((await log(t.container)).map((l) => l.op)).toEqual(["put_blob"]);
  });

  it("uploads a multi-MB file as blocks plus a block list, bytes identical", async () => {
    const t = target();
    const data = bytes(5 * MiB + 3, 32);
    await deliver(azureDriver, t, await putFile(data, "b.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=b.bin`), data)).toBe(true);
    expect((await log(t.container)).map((l) => l.op)).toEqual(["put_block", "put_block", "put_block", "put_block_list"]);
  });

  it("refuses a SAS with a wrong signature, with a clear reason and no retries", async () => {
    const t = target({ sas_token: servers().azure.sas.replace(/sig=[^&]+/, "sig=bm9wZQ%3D%3D") });
    const err = await deliver(azureDriver, t, await putFile(bytes(10)), ctx(), fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/AuthenticationFailed.*SAS token/);
    expect((await log(t.container)).length).toBe(1);
  });

  it("retries 503 ServerBusy on a block, then succeeds", async () => {
    const t = target();
    await controlJson("/azure/faults", { container: t.container, op: "put_block", count: 2, status: 503, code: "ServerBusy" });
    const data = bytes(3 * MiB, 33);
    await deliver(azureDriver, t, await putFile(data, "c.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=c.bin`), data)).toBe(true);
    expect((await log(t.container)).map((l) => l.status)).toEqual([503, 503, 201, 201, 201]);
  });

  it("test connection stages an uncommitted block only", async () => {
    const t = target();
    await azureDriver.test(e, t, fast);
    expect((await log(t.container)).map((l) => l.op)).toEqual(["put_block"]);
    const r = await control(`/azure/blob?container=${t.container}&blob=.ferry-connection-test`);
    expect(r.status).toBe(404);
    await r.body?.cancel();
  });
});

describe("azure target, resumable", () => {
  it("a block sent again is staged again under the same id; committing twice commits the same blob", async () => {
    const t = target();
    const data = bytes(5 * MiB + 11, 81);
    const file = await putFile(data, "again.bin");
    const s = createServices(e);
    let state = await azureDriver.begin(s, t, file, ctx(), fast);
    expect(state).toMatchObject({ part_size: 2 * MiB, blocks: true, sent: 0 });
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await azureDriver.putPart(s, t, state, 1, await part(1), fast);
    const before = state;
    state = await azureDriver.putPart(s, t, before, 2, await part(2), fast);
    state = await azureDriver.putPart(s, t, before, 2, await part(2), fast);
    state = await azureDriver.putPart(s, t, state, 3, await part(3), fast);
    await azureDriver.complete(s, t, state, fast);
    await azureDriver.complete(s, t, state, fast); // a lost answer: the blocks are committed ones now
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=again.bin`), data)).toBe(true);
    expect((await log(t.container)).map((l) => `${l.op}:${l.status}`)).toEqual([
      "put_block:201",
      "put_block:201",
      "put_block:201",
      "put_block:201",
      "put_block_list:201",
      "put_block_list:201",
    ]);
  });

  it("blocks that are no longer staged restart the upload", async () => {
    const t = target();
    const file = await putFile(bytes(3 * MiB, 82), "lost.bin");
    const s = createServices(e);
    let state = await azureDriver.begin(s, t, file, ctx(), fast);
    state = await azureDriver.putPart(s, t, state, 1, new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, 1) }))!.arrayBuffer()), fast);
    const err = await azureDriver.complete(s, t, state, fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(UploadRestart);
  });
});
