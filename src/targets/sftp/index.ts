/**
 * SFTP with the ssh2 client, password or private key (ed25519, ecdsa, rsa).
 *
 * In workerd ssh2 runs as pure JavaScript on node:crypto and node:net (nodejs_compat):
 * - its optional native addon is skipped (wrangler.toml [[rules]] maps `**\/*.node` to Data);
 * - its Poly1305 WebAssembly is shipped precompiled (./wasm-shim.ts);
 * - ciphers are limited to AES-CTR with HMAC-SHA2: workerd's AES-GCM decipher wants the
 *   auth tag before the data, which ssh2's streaming use of it does not give.
 */
import "./wasm-shim";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import type { Env } from "../../env";
import type { SftpTarget } from "../config";
import { checkTargetHost } from "../hosts";
import { type DeliveryOptions, type TargetDriver, TargetError, expandTemplate, readFile, withTimeout } from "../types";

const ALGORITHMS: ConnectConfig["algorithms"] = {
  cipher: ["aes256-ctr", "aes192-ctr", "aes128-ctr"],
  hmac: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"],
};

function hexToBase64NoPad(hex: string): string {
  const bytes = hex.match(/../g)?.map((h) => String.fromCharCode(parseInt(h, 16))).join("") ?? "";
  return btoa(bytes).replace(/=+$/, "");
}

function sshError(err: unknown, cfg: SftpTarget): TargetError {
  if (err instanceof TargetError) return err;
  const e = err as Error & { level?: string; code?: string | number };
  const msg = String(e?.message ?? err);
  if (e?.level === "client-authentication") {
    return new TargetError("auth", `SFTP login refused for user '${cfg.username}' on ${cfg.host}:${cfg.port}; check the ${cfg.private_key ? "private key" : "password"}`);
  }
  if (/Cannot parse privateKey|Encrypted private key detected|bad passphrase/i.test(msg)) {
    return new TargetError("config", `SFTP private key: ${msg}`);
  }
  if (/host key.*(verification|did not match)|Host denied/i.test(msg)) {
    return new TargetError("refused", `SFTP: the host key of ${cfg.host} does not match host_key_sha256`);
  }
  if (e?.level === "client-timeout") return new TargetError("transient", `SFTP: ${cfg.host}:${cfg.port} did not complete the SSH handshake in time`);
  return new TargetError("transient", `SFTP: ${cfg.host}:${cfg.port}: ${msg}`);
}

async function openSftp(env: Env, cfg: SftpTarget, opts: DeliveryOptions): Promise<{ conn: Client; sftp: SFTPWrapper }> {
  await checkTargetHost(env, cfg.host);
  const conn = new Client();
  const timeout = opts.timeoutMs ?? 30_000;
  const config: ConnectConfig = {
    host: cfg.host,
    port: cfg.port,
    username: cfg.username,
    password: cfg.password,
    privateKey: cfg.private_key,
    passphrase: cfg.passphrase,
    readyTimeout: timeout,
    algorithms: ALGORITHMS,
    ...(cfg.host_key_sha256
      ? { hostHash: "sha256", hostVerifier: (hashHex: string) => hexToBase64NoPad(hashHex) === cfg.host_key_sha256!.replace(/^SHA256:/, "").replace(/=+$/, "") }
      : {}),
  };
  // One listener for every error of the connection, for its whole life. ssh2 can emit several:
  // a handshake timeout is followed by "Connection lost before handshake" when the socket
  // closes, and a socket error can come after the first failure; an `error` event with no
  // listener is thrown as an uncaught exception. The first one before `ready` fails the open;
  // later ones also fail the SFTP call in flight, which reports them.
  let failOpen: ((err: unknown) => void) | undefined;
  conn.on("error", (err) => failOpen?.(err));
  try {
    const sftp = await withTimeout(timeout + 1000, `SFTP connection to ${cfg.host}`, () =>
      new Promise<SFTPWrapper>((resolve, reject) => {
        failOpen = reject;
        conn.once("ready", () => conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
        conn.connect(config);
      }),
    );
    failOpen = undefined;
    return { conn, sftp };
  } catch (err) {
    conn.end();
    throw sshError(err, cfg);
  }
}

const call = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

async function ensureDirs(sftp: SFTPWrapper, path: string): Promise<void> {
  const parts = path.split("/").slice(0, -1).filter(Boolean);
  let dir = path.startsWith("/") ? "" : ".";
  for (const p of parts) {
    dir += `/${p}`;
    const exists = await call<unknown>((cb) => sftp.stat(dir, cb)).then(() => true, () => false);
    if (!exists) await call<void>((cb) => sftp.mkdir(dir, (err) => cb(err, undefined)));
  }
}

function pathError(err: unknown, path: string, cfg: SftpTarget): TargetError {
  const code = (err as { code?: number }).code;
  // SFTP status codes: 2 no such file, 3 permission denied
  if (code === 2 || code === 3) return new TargetError("not_found", `SFTP: cannot write ${path} on ${cfg.host} (${String((err as Error).message)}); check the path and the account's permissions`);
  return sshError(err, cfg);
}

export const sftpDriver: TargetDriver<SftpTarget> = {
  async test(env, cfg, opts = {}) {
    const { conn } = await openSftp(env, cfg, opts);
    conn.end();
  },

  async deliver(env, cfg, file, ctx, opts = {}) {
    const path = expandTemplate(cfg.path, file, ctx);
    const { conn, sftp } = await openSftp(env, cfg, opts);
    try {
      await ensureDirs(sftp, path).catch((err) => {
        throw pathError(err, path, cfg);
      });
      const handle = await call<Buffer>((cb) => sftp.open(path, "w", cb)).catch((err) => {
        throw pathError(err, path, cfg);
      });
      const obj = await readFile(env, file.key);
      // Writes go out in 256 KiB blocks, several in flight: one SFTP round trip per R2
      // chunk would make large files crawl.
      const BLOCK = 256 * 1024;
      const IN_FLIGHT = 8;
      const pending = new Set<Promise<void>>();
      let position = 0;
      const writeBlock = async (buf: Buffer, at: number) => {
        const p = withTimeout(opts.timeoutMs ?? 30_000, "SFTP write", () => call<void>((cb) => sftp.write(handle, buf, 0, buf.length, at, (err) => cb(err, undefined))));
        pending.add(p);
        p.finally(() => pending.delete(p)).catch(() => {});
        if (pending.size >= IN_FLIGHT) await Promise.race(pending);
      };
      let block: Uint8Array[] = [];
      let blockLen = 0;
      for await (const chunk of obj.body as unknown as AsyncIterable<Uint8Array>) {
        block.push(chunk);
        blockLen += chunk.byteLength;
        if (blockLen >= BLOCK) {
          await writeBlock(Buffer.concat(block), position);
          position += blockLen;
          block = [];
          blockLen = 0;
        }
      }
      if (blockLen > 0) {
        await writeBlock(Buffer.concat(block), position);
        position += blockLen;
      }
      await Promise.all(pending);
      await call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined)));
      if (position !== file.size) throw new TargetError("transient", `SFTP: wrote ${position} of ${file.size} bytes`);
      return { location: `sftp://${cfg.host}:${cfg.port}${path.startsWith("/") ? "" : "/"}${path}` };
    } catch (err) {
      throw err instanceof TargetError ? err : sshError(err, cfg);
    } finally {
      conn.end();
    }
  },
};
