import { describe, expect, it } from "vitest";
import { SftpTarget } from "../../src/targets/config";
import { sftpDriver } from "../../src/targets/sftp";
import { createServices } from "../../src/services";
import { TargetError, UploadRestart, partRange } from "../../src/targets/types";
import { bytes, control, ctx, deliver, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

const MiB = 1024 * 1024;

function target(over: Record<string, unknown>): SftpTarget {
  const s = servers().sftp;
  return SftpTarget.parse({ type: "sftp", host: s.host, port: s.port, username: s.user, ...over });
}

async function failure(p: Promise<unknown>): Promise<TargetError> {
  const err = await p.then(() => null, (x) => x);
  expect(err).toBeInstanceOf(TargetError);
  return err as TargetError;
}

describe("sftp target", () => {
  it("uploads a multi-MB file with a password into nested directories, bytes identical", async () => {
    const dir = unique("s");
    const data = bytes(5 * MiB + 77, 21);
    const r = await deliver(sftpDriver, target({ password: servers().sftp.password, path: `/${dir}/{date}/{name}` }), await putFile(data, "p.csv"), ctx(), fast);
    expect(r.location).toMatch(new RegExp(`^sftp://127\\.0\\.0\\.1:\\d+/${dir}/2026-11-25/p\\.csv$`));
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/2026-11-25/p.csv`), data)).toBe(true);
  });

  it("uploads with an ed25519 private key", async () => {
    const dir = unique("k");
    const data = bytes(1 * MiB + 5, 22);
    await deliver(sftpDriver, target({ private_key: servers().sftp.privateKey, path: `/${dir}/{name}` }), await putFile(data, "k.csv"), ctx(), fast);
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/k.csv`), data)).toBe(true);
  });

  it("uploads with an RSA private key", async () => {
    const dir = unique("r");
    const data = bytes(300_000, 23);
    await deliver(sftpDriver, target({ private_key: servers().sftp.rsaPrivateKey, path: `/${dir}/{name}` }), await putFile(data, "r.csv"), ctx(), fast);
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/r.csv`), data)).toBe(true);
  });

  it("refuses a wrong password with a clear reason", async () => {
    const err = await failure(deliver(sftpDriver, target({ password: "wrong" }), await putFile(bytes(10)), ctx(), fast));
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/login refused.*check the password/);
  });

  it("refuses a key the server does not know", async () => {
    const { generateKeyPairSync } = (await import("ssh2")).utils;
    const stranger = generateKeyPairSync("ed25519").private;
    const err = await failure(sftpDriver.test(e, target({ private_key: stranger }), fast));
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(/private key/);
  });

  it("rejects a malformed private key as a configuration error", async () => {
    const err = await failure(sftpDriver.test(e, target({ private_key: "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----" }), fast));
    expect(err.kind).toBe("config");
  });

  it("refuses a server whose host key does not match the pin", async () => {
    const err = await failure(sftpDriver.test(e, target({ password: servers().sftp.password, host_key_sha256: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }), fast));
    expect(err.message).toMatch(/host key/);
  });
});

describe("sftp target, resumable", () => {
  const small = { ...fast, partBytes: 256 * 1024 };
  const exists = async (path: string) => {
    const r = await control(`/file?server=sftp&path=${path}`);
    await r.body?.cancel();
    return r.status === 200;
  };
  const pw = () => ({ password: servers().sftp.password });

  it("writes each part at its offset into a temporary file, renamed at complete; a part written twice is harmless", async () => {
    const dir = unique("rs");
    const t = target({ ...pw(), path: `/${dir}/{name}` });
    const data = bytes(600_000, 61);
    const file = await putFile(data, "w.csv");
    const s = createServices(e);
    let state = await sftpDriver.begin(s, t, file, ctx("run_w"), small);
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await sftpDriver.putPart(s, t, state, 1, await part(1), small);
    const before = state;
    state = await sftpDriver.putPart(s, t, before, 2, await part(2), small);
    state = await sftpDriver.putPart(s, t, before, 2, await part(2), small); // again, from the state before it
    state = await sftpDriver.putPart(s, t, state, 3, await part(3), small);
    expect(await exists(`${dir}/w.csv`)).toBe(false);
    expect(await exists(`${dir}/w.csv.part-run_w`)).toBe(true);
    const r = await sftpDriver.complete(s, t, state, small);
    expect(r.location).toMatch(new RegExp(`/${dir}/w\\.csv$`));
    expect((await sftpDriver.complete(s, t, state, small)).location).toBe(r.location); // a lost answer, completed again
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/w.csv`), data)).toBe(true);
    expect(await exists(`${dir}/w.csv.part-run_w`)).toBe(false);
  });

  it("replaces a file from an earlier delivery (the server's RENAME does not overwrite)", async () => {
    const dir = unique("over");
    const t = target({ ...pw(), path: `/${dir}/{name}` });
    await deliver(sftpDriver, t, await putFile(bytes(1000, 62), "o.csv"), ctx(), small);
    const data = bytes(300_000, 63);
    await deliver(sftpDriver, t, await putFile(data, "o.csv"), ctx(), small);
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/o.csv`), data)).toBe(true);
  });

  it("a temporary file that was cut or removed restarts the upload; abort removes it; an empty file is delivered empty", async () => {
    const dir = unique("cut");
    const t = target({ ...pw(), path: `/${dir}/{name}` });
    const file = await putFile(bytes(600_000, 64), "c.csv");
    const s = createServices(e);
    let state = await sftpDriver.begin(s, t, file, ctx("run_c"), small);
    const part = async (n: number) => new Uint8Array(await (await e.FILES.get(file.key, { range: partRange(state, n) }))!.arrayBuffer());
    state = await sftpDriver.putPart(s, t, state, 1, await part(1), small);
    await sftpDriver.abort(s, t, state, small);
    await sftpDriver.abort(s, t, state, small);
    expect(await exists(`${dir}/c.csv.part-run_c`)).toBe(false);
    expect(await sftpDriver.putPart(s, t, state, 2, await part(2), small).then(() => null, (x) => x)).toBeInstanceOf(UploadRestart);
    state = await sftpDriver.putPart(s, t, state, 1, await part(1), small);
    expect(await sftpDriver.complete(s, t, state, small).then(() => null, (x) => x)).toBeInstanceOf(UploadRestart);

    await deliver(sftpDriver, t, await putFile(new Uint8Array(0), "empty.csv"), ctx(), small);
    expect((await readBack(`/file?server=sftp&path=${dir}/empty.csv`)).length).toBe(0);
  });
});

describe("sftp handshake timeout", () => {
  it("fails with a transient error, and the connection's later errors are all handled", async () => {
    // ssh2 emits "Timed out while waiting for handshake", then "Connection lost before handshake"
    // as the socket closes; an `error` event nobody listens to is an uncaught exception, which
    // workerd dispatches to the global `error` event.
    const scope = globalThis as unknown as EventTarget;
    const uncaught: unknown[] = [];
    const onError = (ev: Event) => {
      uncaught.push((ev as ErrorEvent).error ?? (ev as PromiseRejectionEvent).reason);
    };
    scope.addEventListener("error", onError);
    scope.addEventListener("unhandledrejection", onError);
    try {
      const s = servers().silent;
      const cfg = target({ host: s.host, port: s.port, password: "x", path: "/t/{name}" });
      const started = Date.now();
      const err = await failure(deliver(sftpDriver, cfg, await putFile(bytes(10)), ctx(), { timeoutMs: 500 }));
      expect(err.kind).toBe("transient");
      expect(err.retryable).toBe(true);
      expect(err.message).toBe(`SFTP: ${s.host}:${s.port} did not complete the SSH handshake in time`);
      expect(Date.now() - started).toBeLessThan(5_000);
      // Time for the socket to close and ssh2 to emit what follows the timeout.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      scope.removeEventListener("error", onError);
      scope.removeEventListener("unhandledrejection", onError);
    }
    expect(uncaught).toEqual([]);
  });
});
