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
import { choosePartSize } from "../http";
import {
  type DeliveryOptions,
  STREAM_PART_BYTES,
  type TargetDriver,
  TargetError,
  UploadRestart,
  type UploadState,
  expandTemplate,
  partRange,
  withTimeout,
} from "../types";

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

/** What an SFTP delivery keeps between parts. */
export interface SftpUploadState extends UploadState {
  /** where the file lands */
  path: string;
  /** where it is assembled until complete renames it (`<path>.part-<run id>`) */
  temp: string;
}

const locationOf = (cfg: SftpTarget, path: string) => `sftp://${cfg.host}:${cfg.port}${path.startsWith("/") ? "" : "/"}${path}`;

/** SFTP status codes (draft-ietf-secsh-filexfer-02): 2 no such file. */
const NO_SUCH_FILE = 2;

async function withSftp<T>(env: Env, cfg: SftpTarget, opts: DeliveryOptions, fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const { conn, sftp } = await openSftp(env, cfg, opts);
  try {
    return await fn(sftp);
  } catch (err) {
    throw err instanceof TargetError || err instanceof UploadRestart ? err : sshError(err, cfg);
  } finally {
    conn.end();
  }
}

/** The size of a file, or null when there is none. */
async function sizeOf(sftp: SFTPWrapper, path: string): Promise<number | null> {
  return call<{ size: number }>((cb) => sftp.stat(path, cb)).then(
    (st) => st.size,
    (err) => {
      if ((err as { code?: number }).code === NO_SUCH_FILE) return null;
      throw err;
    },
  );
}

/**
 * Renames over an existing file: posix-rename@openssh.com where the server offers it (atomic,
 * replaces), else SFTP v3 RENAME, which OpenSSH refuses when the target exists, so after a
 * failure the old file is removed first.
 * https://github.com/openssh/openssh-portable/blob/master/PROTOCOL (posix-rename)
 */
async function renameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  const posix = await call<void>((cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined))).then(
    () => true,
    () => false,
  );
  if (posix) return;
  const plain = () => call<void>((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
  try {
    await plain();
  } catch {
    await call<void>((cb) => sftp.unlink(to, (err) => cb(err, undefined))).catch(() => {});
    await plain();
  }
}

/**
 * SFTP as a resumable upload: parts are written at their offsets into a temporary file next to
 * the destination (part 1 opens it with "w", which starts it over; the others with "r+"), and
 * complete renames it, so the destination never shows half a file. Writing at an offset is
 * idempotent: a part sent again writes the same bytes at the same place.
 */
export const sftpDriver: TargetDriver<SftpTarget, SftpUploadState> = {
  async test(env, cfg, opts = {}) {
    const { conn } = await openSftp(env, cfg, opts);
    conn.end();
  },

  async begin(s, cfg, file, ctx, opts = {}) {
    const path = expandTemplate(cfg.path, file, ctx);
    // Logs in (wrong credentials fail here, before any data moves) and makes the directories.
    await withSftp(s.env, cfg, opts, (sftp) =>
      ensureDirs(sftp, path).catch((err) => {
        throw pathError(err, path, cfg);
      }),
    );
    const part_size = choosePartSize(file.size, opts.partBytes ?? STREAM_PART_BYTES);
    return { size: file.size, part_size, sent: 0, path, temp: `${path}.part-${ctx.runId}` };
  },

  async putPart(s, cfg, state, n, bytes, opts = {}) {
    const range = partRange(state, n);
    if (bytes.byteLength !== range.length) throw new Error(`part ${n} has ${bytes.byteLength} bytes, expected ${range.length}`);
    return withSftp(s.env, cfg, opts, async (sftp) => {
      const handle = await call<Buffer>((cb) => sftp.open(state.temp, n === 1 ? "w" : "r+", cb)).catch((err) => {
        if (n > 1 && (err as { code?: number }).code === NO_SUCH_FILE) throw new UploadRestart(`${state.temp} is gone from ${cfg.host}`);
        throw pathError(err, state.temp, cfg);
      });
      try {
        if (n > 1) {
          // The bytes before this part must be there: a shorter file was cut or replaced meanwhile.
          const st = await call<{ size: number }>((cb) => sftp.fstat(handle, cb));
          if (st.size < range.offset) throw new UploadRestart(`${state.temp} on ${cfg.host} has ${st.size} bytes where ${range.offset} were sent`);
        }
        // Writes go out in 256 KiB blocks, several in flight: one SFTP round trip per block
        // would make large parts crawl.
        const BLOCK = 256 * 1024;
        const IN_FLIGHT = 8;
        const pending = new Set<Promise<void>>();
        for (let at = 0; at < bytes.byteLength; at += BLOCK) {
          const buf = Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(BLOCK, bytes.byteLength - at));
          const position = range.offset + at;
          const p = withTimeout(opts.timeoutMs ?? 30_000, "SFTP write", () => call<void>((cb) => sftp.write(handle, buf, 0, buf.length, position, (err) => cb(err, undefined))));
          pending.add(p);
          p.finally(() => pending.delete(p)).catch(() => {});
          if (pending.size >= IN_FLIGHT) await Promise.race(pending);
        }
        await Promise.all(pending);
      } finally {
        await call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => {});
      }
      return { ...state, sent: range.offset + range.length };
    });
  },

  async complete(s, cfg, state, opts = {}) {
    return withSftp(s.env, cfg, opts, async (sftp) => {
      if (state.size === 0) {
        const h = await call<Buffer>((cb) => sftp.open(state.temp, "w", cb)).catch((err) => {
          throw pathError(err, state.temp, cfg);
        });
        await call<void>((cb) => sftp.close(h, (err) => cb(err, undefined)));
      }
      const size = await sizeOf(sftp, state.temp);
      if (size === null) {
        // Renamed by an earlier try whose answer was lost?
        if ((await sizeOf(sftp, state.path)) === state.size) return { location: locationOf(cfg, state.path) };
        throw new UploadRestart(`${state.temp} is gone from ${cfg.host}`);
      }
      if (size !== state.size) throw new UploadRestart(`${state.temp} on ${cfg.host} has ${size} bytes, expected ${state.size}`);
      await renameOver(sftp, state.temp, state.path).catch((err) => {
        throw pathError(err, state.path, cfg);
      });
      return { location: locationOf(cfg, state.path) };
    });
  },

  async abort(s, cfg, state, opts = {}) {
    await withSftp(s.env, cfg, opts, (sftp) =>
      call<void>((cb) => sftp.unlink(state.temp, (err) => cb(err, undefined))).catch((err) => {
        if ((err as { code?: number }).code !== NO_SUCH_FILE) throw err;
      }),
    );
  },
};
