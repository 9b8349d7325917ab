import { describe, expect, it } from "vitest";
import { SftpTarget } from "../../src/targets/config";
import { sftpDriver } from "../../src/targets/sftp";
import { TargetError } from "../../src/targets/types";
import { bytes, ctx, e, fast, putFile, readBack, sameBytes, servers, unique } from "./helpers";

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
    const r = await sftpDriver.deliver(e, target({ password: servers().sftp.password, path: `/${dir}/{date}/{name}` }), await putFile(data, "p.csv"), ctx(), fast);
    expect(r.location).toMatch(new RegExp(`^sftp://127\\.0\\.0\\.1:\\d+/${dir}/2026-11-25/p\\.csv$`));
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/2026-11-25/p.csv`), data)).toBe(true);
  });

  it("uploads with an ed25519 private key", async () => {
    const dir = unique("k");
    const data = bytes(1 * MiB + 5, 22);
    await sftpDriver.deliver(e, target({ private_key: servers().sftp.privateKey, path: `/${dir}/{name}` }), await putFile(data, "k.csv"), ctx(), fast);
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/k.csv`), data)).toBe(true);
  });

  it("uploads with an RSA private key", async () => {
    const dir = unique("r");
    const data = bytes(300_000, 23);
    await sftpDriver.deliver(e, target({ private_key: servers().sftp.rsaPrivateKey, path: `/${dir}/{name}` }), await putFile(data, "r.csv"), ctx(), fast);
    expect(sameBytes(await readBack(`/file?server=sftp&path=${dir}/r.csv`), data)).toBe(true);
  });

  it("refuses a wrong password with a clear reason", async () => {
    const err = await failure(sftpDriver.deliver(e, target({ password: "wrong" }), await putFile(bytes(10)), ctx(), fast));
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
      const err = await failure(sftpDriver.deliver(e, cfg, await putFile(bytes(10)), ctx(), { timeoutMs: 500 }));
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
