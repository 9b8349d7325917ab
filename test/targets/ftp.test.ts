import { describe, expect, it } from "vitest";
import { FtpTarget } from "../../src/targets/config";
import { ftpDriver } from "../../src/targets/ftp";
import { TargetError } from "../../src/targets/types";
import { bytes, ctx, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

function target(kind: "ftp" | "ftps", over: Record<string, unknown> = {}): FtpTarget {
  const s = servers()[kind];
  return FtpTarget.parse({ type: kind, host: s.host, port: s.port, username: s.user, password: s.password, ...over });
}

describe.each(["ftp", "ftps"] as const)("%s target", (kind) => {
  it("uploads a multi-MB file into nested directories from the path template, bytes identical", async () => {
    const dir = unique("d");
    const t = target(kind, { path: `/${dir}/{date}/{run_id}-{name}` });
    const data = bytes(6 * MiB + 321, kind === "ftp" ? 11 : 12);
    const r = await ftpDriver.deliver(e, t, await putFile(data, "out.csv"), ctx("run_f"), fast);
    expect(r.location).toBe(`${kind}://${t.host}:${t.port}/${dir}/2026-11-25/run_f-out.csv`);
    const back = await readBack(`/file?server=${kind}&path=${dir}/2026-11-25/run_f-out.csv`);
    expect(sameBytes(back, data)).toBe(true);
  });

  it("refuses a wrong password with a clear reason", async () => {
    const err = await ftpDriver.deliver(e, target(kind, { password: "wrong" }), await putFile(bytes(100)), ctx(), fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/530/);
    expect(err.message).toMatch(/username and password/);
  });

  it("test connection logs in", async () => {
    await ftpDriver.test(e, target(kind), fast);
  });
});

describe("ftps specifics", () => {
  it("the FTPS server refuses a login that did not go through AUTH TLS (so the ftps target really encrypts)", async () => {
    const s = servers().ftps;
    const plain = FtpTarget.parse({ type: "ftp", host: s.host, port: s.port, username: s.user, password: s.password });
    const err = await ftpDriver.test(e, plain, fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.message).toMatch(/TLS required/);
  });

  it("fails clearly when the server offers no TLS", async () => {
    const s = servers().ftp;
    const t = FtpTarget.parse({ type: "ftps", host: s.host, port: s.port, username: s.user, password: s.password });
    const err = await ftpDriver.test(e, t, fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.message).toMatch(/does not offer explicit TLS/);
  });
});
