import { describe, expect, it } from "vitest";
import { azureDriver } from "../../src/targets/azure";
import { AzureTarget } from "../../src/targets/config";
import { TargetError } from "../../src/targets/types";
import { bytes, control, controlJson, ctx, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

function target(over: Record<string, unknown> = {}): AzureTarget {
  const s = servers().azure;
  return AzureTarget.parse({ type: "azure", endpoint: s.endpoint, container: unique("c"), sas_token: `?${s.sas}`, block_size_mb: 2, ...over });
}

const log = async (container: string) => (await (await control(`/azure/log?container=${container}`)).json()) as { op: string; status: number }[];

describe("azure target (loopback stand-in, not Azure itself)", () => {
  it("uploads a small file with Put Blob", async () => {
    const t = target({ blob: "daily/{date}/{name}" });
    const data = bytes(100_000, 31);
    const r = await azureDriver.deliver(e, t, await putFile(data, "a.csv"), ctx(), fast);
    expect(r.location).toBe(`${t.endpoint}/${t.container}/daily/2026-11-25/a.csv`);
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=daily/2026-11-25/a.csv`), data)).toBe(true);
    expect((await log(t.container)).map((l) => l.op)).toEqual(["put_blob"]);
  });

  it("uploads a multi-MB file as blocks plus a block list, bytes identical", async () => {
    const t = target();
    const data = bytes(5 * MiB + 3, 32);
    await azureDriver.deliver(e, t, await putFile(data, "b.bin"), ctx(), fast);
    expect(sameBytes(await readBack(`/azure/blob?container=${t.container}&blob=b.bin`), data)).toBe(true);
    expect((await log(t.container)).map((l) => l.op)).toEqual(["put_block", "put_block", "put_block", "put_block_list"]);
  });

  it("refuses a SAS with a wrong signature, with a clear reason and no retries", async () => {
    const t = target({ sas_token: servers().azure.sas.replace(/sig=[^&]+/, "sig=bm9wZQ%3D%3D") });
    const err = await azureDriver.deliver(e, t, await putFile(bytes(10)), ctx(), fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/AuthenticationFailed.*SAS token/);
    expect((await log(t.container)).length).toBe(1);
  });

  it("retries 503 ServerBusy on a block, then succeeds", async () => {
    const t = target();
    await controlJson("/azure/faults", { container: t.container, op: "put_block", count: 2, status: 503, code: "ServerBusy" });
    const data = bytes(3 * MiB, 33);
    await azureDriver.deliver(e, t, await putFile(data, "c.bin"), ctx(), fast);
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
