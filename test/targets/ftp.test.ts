import { describe, expect, it } from "vitest";
import { FtpTarget, ftpPort } from "../../src/targets/config";
import { ftpDriver } from "../../src/targets/ftp";
import { createServices } from "../../src/services";
import { TargetError, UploadRestart, partRange } from "../../src/targets/types";
import { bytes, control, ctx, deliver, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

type Kind = "ftp" | "ftps" | "ftpsImplicit";
const KINDS = ["ftp", "ftps", "ftpsImplicit"] as const;
/** The URL scheme of a delivered file's location. */
const scheme = (kind: Kind) => (kind === "ftp" ? "ftp" : "ftps");

function target(kind: Kind, over: Record<string, unknown> = {}): FtpTarget {
  const s = servers()[kind];
  const tls = kind === "ftpsImplicit" ? { tls: "implicit" } : {};
  return FtpTarget.parse({ type: scheme(kind), ...tls, host: s.host, port: s.port, username: s.user, password: s.password, ...over });
}

describe.each(KINDS)("%s target", (kind) => {
  it("uploads a multi-MB file into nested directories from the path template, bytes identical", async () => {
    const dir = unique("d");
    const t = target(kind, { path: `/${dir}/{date}/{run_id}-{name}` });
    const data = bytes(6 * MiB + 321, kind === "ftp" ? 11 : kind === "ftps" ? 12 : 13);
    const r = await deliver(ftpDriver, t, await putFile(data, "out.csv"), ctx("run_f"), fast);
    expect(r.location).toBe(`${scheme(kind)}://${t.host}:${t.port}/${dir}/2026-11-25/run_f-out.csv`);
    const back = await readBack(`/file?server=${kind}&path=${dir}/2026-11-25/run_f-out.csv`);
    expect(sameBytes(back, data)).toBe(true);
  });

  it("refuses a wrong password with a clear reason", async () => {
    const err = await deliver(ftpDriver, target(kind, { password: "wrong" }), await putFile(bytes(100)), ctx(), fast).then(() => null, (x) => x);
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

  it("implicit TLS: the port defaults to 990; a plain or explicit-TLS client gets no FTP greeting from an implicit server", async () => {
    const s = servers().ftpsImplicit;
    const t = FtpTarget.parse({ type: "ftps", tls: "implicit", host: s.host, username: s.user, password: s.password });
    expect(ftpPort(t)).toBe(990);
    expect(ftpPort(FtpTarget.parse({ type: "ftps", host: s.host, username: s.user, password: s.password }))).toBe(21);
    // Definitions stored before the option parse as explicit TLS.
    expect(FtpTarget.parse({ type: "ftps", host: s.host, port: 21, username: s.user, password: s.password })).toMatchObject({ tls: "explicit" });
    for (const over of [{ type: "ftp" }, { type: "ftps", tls: "explicit" }]) {
      const wrong = FtpTarget.parse({ host: s.host, port: s.port, username: s.user, password: s.password, ...over });
      const err = await ftpDriver.test(e, wrong, { ...fast, timeoutMs: 1500 }).then(() => null, (x) => x);
      expect(err).toBeInstanceOf(TargetError);
    }
  });

  it("an implicit-TLS client against an explicit (plain-greeting) server fails the TLS handshake with a clear reason", async () => {
    const s = servers().ftps;
    const t = FtpTarget.parse({ type: "ftps", tls: "implicit", host: s.host, port: s.port, username: s.user, password: s.password });
    const err = await ftpDriver.test(e, t, { ...fast, timeoutMs: 1500 }).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
  });

  it("fails clearly when the server offers no TLS", async () => {
    const s = servers().ftp;
    const t = FtpTarget.parse({ type: "ftps", host: s.host, port: s.port, username: s.user, password: s.password });
    const err = await ftpDriver.test(e, t, fast).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.message).toMatch(/does not offer explicit TLS/);
  });
});

describe.each(KINDS)("%s target, resumable", (kind) => {
  const small = { ...fast, partBytes: 256 * 1024 };
  const exists = async (path: string) => {
    const r = await control(`/file?server=${kind}&path=${path}`);
    await r.body?.cancel();
    return r.status === 200;
  };

  it("assembles the file under a temporary name and renames it at complete", async () => {
    const dir = unique("t");
    const t = target(kind, { path: `/${dir}/{name}` });
    const data = bytes(700_000, 51);
    const seen: boolean[] = [];
    const r = await deliver(ftpDriver, t, await putFile(data, "tmp.csv"), ctx("run_t"), small, async () => {
      seen.push(await exists(`${dir}/tmp.csv`), await exists(`${dir}/tmp.csv.part-run_t`));
    });
    expect(r.state.part_size).toBe(256 * 1024);
    expect(seen).toEqual([false, true, false, true, false, true]);
    expect(sameBytes(await readBack(`/file?server=${kind}&path=${dir}/tmp.csv`), data)).toBe(true);
    expect(await exists(`${dir}/tmp.csv.part-run_t`)).toBe(false);
  });

  it("a part sent again after its first try got through is not appended twice; complete twice is harmless", async () => {
    const dir = unique("twice");
    const t = target(kind, { path: `/${dir}/{name}` });
    const data = bytes(600_000, 52);
    const file = await putFile(data, "twice.csv");
    const s = createServices(e);
    let state = await ftpDriver.begin(s, t, file, ctx("run_2"), small);
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await ftpDriver.putPart(s, t, state, 1, await part(1), small);
    const before = state;
    state = await ftpDriver.putPart(s, t, before, 2, await part(2), small);
    // the link "crashed" before recording: part 2 runs again from the state before it
    state = await ftpDriver.putPart(s, t, before, 2, await part(2), small);
    state = await ftpDriver.putPart(s, t, state, 3, await part(3), small);
    await ftpDriver.complete(s, t, state, small);
    expect((await ftpDriver.complete(s, t, state, small)).location).toBe(`${scheme(kind)}://${t.host}:${t.port}/${dir}/twice.csv`);
    expect(sameBytes(await readBack(`/file?server=${kind}&path=${dir}/twice.csv`), data)).toBe(true);
  });

  it("a temp file of another size than the bytes sent restarts the upload from part 1 (FTP cannot truncate)", async () => {
    const dir = unique("restart");
    const t = target(kind, { path: `/${dir}/{name}` });
    const data = bytes(600_000, 53);
    const file = await putFile(data, "r.csv");
    const s = createServices(e);
    let state = await ftpDriver.begin(s, t, file, ctx("run_r"), small);
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await ftpDriver.putPart(s, t, state, 1, await part(1), small);
    const afterOne = state;
    state = await ftpDriver.putPart(s, t, state, 2, await part(2), small);
    state = await ftpDriver.putPart(s, t, state, 3, await part(3), small);
    // A stale worker sending part 2 again finds 3 parts in the temp file: appending would corrupt it.
    const err = await ftpDriver.putPart(s, t, afterOne, 2, await part(2), small).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(UploadRestart);
    expect(err.message).toMatch(/has 600000 bytes where 262144 were sent/);
    // Starting over from part 1 replaces the temp file.
    state = await ftpDriver.putPart(s, t, state, 1, await part(1), small);
    state = await ftpDriver.putPart(s, t, state, 2, await part(2), small);
    // A temp file that vanished (removed on the server) restarts too, here at complete.
    await ftpDriver.abort(s, t, state, small);
    expect(await ftpDriver.complete(s, t, state, small).then(() => null, (x) => x)).toBeInstanceOf(UploadRestart);
    for (let n = 1; n <= 3; n++) state = await ftpDriver.putPart(s, t, state, n, await part(n), small);
    await ftpDriver.complete(s, t, state, small);
    expect(sameBytes(await readBack(`/file?server=${kind}&path=${dir}/r.csv`), data)).toBe(true);
  });

  it("abort deletes the temporary file; an empty file is delivered empty", async () => {
    const dir = unique("abort");
    const t = target(kind, { path: `/${dir}/{name}` });
    const file = await putFile(bytes(300_000, 54), "a.csv");
    const s = createServices(e);
    let state = await ftpDriver.begin(s, t, file, ctx("run_a"), small);
    state = await ftpDriver.putPart(s, t, state, 1, new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, 1) }))!.arrayBuffer()), small);
    expect(await exists(`${dir}/a.csv.part-run_a`)).toBe(true);
    await ftpDriver.abort(s, t, state, small);
    await ftpDriver.abort(s, t, state, small); // nothing left: still fine
    expect(await exists(`${dir}/a.csv.part-run_a`)).toBe(false);

    const empty = await deliver(ftpDriver, t, await putFile(new Uint8Array(0), "empty.csv"), ctx(), small);
    expect(empty.state.size).toBe(0);
    expect((await readBack(`/file?server=${kind}&path=${dir}/empty.csv`)).length).toBe(0);
  });
});
