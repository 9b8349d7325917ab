/**
 * FTP and FTPS (explicit TLS, RFC 4217, or implicit TLS from the first byte, usually port 990)
 * over `cloudflare:sockets`.
 *
 * Why not basic-ftp: it runs in workerd for plain FTP, but its AUTH TLS upgrade goes
 * through node:tls over a node:net socket, which in workerd always has a read pending;
 * workerd's upgrade (Socket.startTls) needs the stream unlocked and fails with
 * "Cannot call releaseLock() on a reader with outstanding read promises". Talking FTP
 * over connect() directly lets us read only when a reply is due, then upgrade.
 * https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#opportunistic-tls-starttls
 *
 * Passive mode only (EPSV, then PASV); the data connection always goes to the control
 * host, never to the address a PASV reply names (no FTP bounce to other hosts).
 * Certificates are verified by the runtime against its trust store.
 */
import { connect } from "cloudflare:sockets";
import type { Env } from "../env";
import { checkTargetHost } from "./hosts";
import { type FtpTarget, ftpPort, ftpTls } from "./config";
import { choosePartSize } from "./http";
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
} from "./types";

interface Reply {
  code: number;
  text: string;
}

const encoder = new TextEncoder();

class FtpSession {
  private socket: Socket;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private buffer = "";
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly tls: "none" | "explicit" | "implicit",
    private readonly timeoutMs: number,
  ) {
    const secureTransport = tls === "implicit" ? "on" : tls === "explicit" ? "starttls" : "off";
    this.socket = connect({ hostname: host, port }, { secureTransport, allowHalfOpen: false });
    this.reader = this.socket.readable.getReader();
    this.writer = this.socket.writable.getWriter();
  }

  /** Reads one (possibly multi-line) reply; no read is left pending afterwards. */
  async reply(): Promise<Reply> {
    return withTimeout(this.timeoutMs, `FTP reply from ${this.host}`, async () => {
      for (;;) {
        const parsed = this.parseReply();
        if (parsed) return parsed;
        const { value, done } = await this.reader.read();
        if (done) throw new TargetError("transient", `FTP server ${this.host} closed the connection`);
        this.buffer += this.decoder.decode(value, { stream: true });
      }
    });
  }

  private parseReply(): Reply | null {
    const lines = this.buffer.split("\r\n");
    if (lines.length < 2) return null;
    const first = /^(\d{3})([ -])/.exec(lines[0] ?? "");
    if (!first) throw new TargetError("refused", `not an FTP server at ${this.host}:${this.port} (got "${(lines[0] ?? "").slice(0, 60)}")`);
    const code = first[1]!;
    let end = 0;
    if (first[2] === "-") {
      end = lines.findIndex((l, i) => i > 0 && l.startsWith(`${code} `));
      if (end < 0 || end === lines.length - 1) return null;
    }
    const text = lines.slice(0, end + 1).join("\n");
    this.buffer = lines.slice(end + 1).join("\r\n");
    return { code: Number(code), text };
  }

  async send(command: string): Promise<Reply> {
    // File names come from templates ({name}); never let one end the command early.
    if (/[\r\n]/.test(command)) throw new TargetError("config", "FTP: a path or credential contains a line break");
    await this.writer.write(encoder.encode(`${command}\r\n`));
    return this.reply();
  }

  /** Sends a command and insists on one of the expected reply codes. */
  async expect(command: string, ok: number[], what: string): Promise<Reply> {
    const r = await this.send(command);
    if (!ok.includes(r.code)) throw replyError(r, what, this.host);
    return r;
  }

  /** AUTH TLS, then swap the socket for its TLS upgrade (RFC 4217 section 4). */
  async upgrade(): Promise<void> {
    const r = await this.send("AUTH TLS");
    if (r.code !== 234) throw new TargetError("refused", `FTPS: ${this.host} does not offer explicit TLS (AUTH TLS answered ${r.code} ${firstLine(r)})`);
    this.reader.releaseLock();
    this.writer.releaseLock();
    this.socket = this.socket.startTls();
    this.reader = this.socket.readable.getReader();
    this.writer = this.socket.writable.getWriter();
  }

  async login(user: string, password: string): Promise<void> {
    const u = await this.send(`USER ${user}`);
    if (u.code === 230) return;
    if (u.code !== 331) throw replyError(u, "login", this.host);
    const p = await this.send(`PASS ${password}`);
    if (p.code !== 230 && p.code !== 202) throw replyError(p, "login", this.host);
  }

  /** Opens a passive data connection (EPSV, falling back to PASV). */
  async openData(): Promise<Socket> {
    let port: number | undefined;
    const e = await this.send("EPSV");
    if (e.code === 229) port = Number(/\(\|\|\|(\d+)\|\)/.exec(e.text)?.[1]);
    if (!port) {
      const p = await this.expect("PASV", [227], "passive mode");
      const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(p.text);
      if (!m) throw new TargetError("refused", `FTP: unreadable PASV reply from ${this.host}: ${firstLine(p)}`);
      port = Number(m[5]) * 256 + Number(m[6]);
    }
    return connect({ hostname: this.host, port }, { secureTransport: this.tls === "none" ? "off" : "on", allowHalfOpen: false });
  }

  async close(): Promise<void> {
    try {
      await withTimeout(2000, "FTP QUIT", () => this.send("QUIT"));
    } catch {
      // best effort
    }
    await this.socket.close().catch(() => {});
  }
}

const firstLine = (r: Reply) => r.text.split("\n")[0]?.slice(4) ?? "";

function replyError(r: Reply, what: string, host: string): TargetError {
  const msg = `FTP ${what} failed on ${host}: ${r.code} ${firstLine(r)}`;
  if (r.code === 530 || r.code === 532) return new TargetError("auth", `${msg} (check the username and password)`);
  if (r.code === 550 || r.code === 553) return new TargetError("not_found", `${msg} (check the path and the account's permissions)`);
  if (r.code >= 400 && r.code < 500) return new TargetError("transient", msg);
  return new TargetError("refused", msg);
}

function connectError(err: unknown, host: string, port: number): TargetError {
  if (err instanceof TargetError) return err;
  const text = String(err instanceof Error ? err.message : err);
  if (/certificate|tls|ssl|handshake/i.test(text)) {
    return new TargetError("refused", `FTPS: TLS with ${host}:${port} failed (${text}); the server needs a certificate valid for that host`);
  }
  return new TargetError("transient", `FTP: could not reach ${host}:${port} (${text})`);
}

async function openSession(env: Env, cfg: FtpTarget, opts: DeliveryOptions): Promise<FtpSession> {
  await checkTargetHost(env, cfg.host);
  const tls = ftpTls(cfg);
  const port = ftpPort(cfg);
  const s = new FtpSession(cfg.host, port, tls, opts.timeoutMs ?? 30_000);
  try {
    const greeting = await s.reply();
    if (greeting.code !== 220) throw replyError(greeting, "greeting", cfg.host);
    if (tls === "explicit") await s.upgrade();
    await s.login(cfg.username, cfg.password);
    if (tls !== "none") {
      await s.expect("PBSZ 0", [200], "PBSZ");
      await s.expect("PROT P", [200], "PROT P (encrypted data channel)");
    }
    await s.expect("TYPE I", [200], "binary mode");
    return s;
  } catch (err) {
    await s.close();
    throw connectError(err, cfg.host, port);
  }
}

/** Creates each missing directory of `path` (MKD answers 550 when one exists; that is fine). */
async function ensureDirs(s: FtpSession, path: string): Promise<void> {
  const parts = path.split("/").slice(0, -1).filter(Boolean);
  let dir = path.startsWith("/") ? "" : ".";
  for (const p of parts) {
    dir += `/${p}`;
    await s.send(`MKD ${dir}`);
  }
}

/** What an FTP delivery keeps between parts. */
export interface FtpUploadState extends UploadState {
  /** where the file lands */
  path: string;
  /** where it is assembled until complete renames it (`<path>.part-<run id>`) */
  temp: string;
}

const locationOf = (cfg: FtpTarget, path: string) => `${cfg.type === "ftps" ? "ftps" : "ftp"}://${cfg.host}:${ftpPort(cfg)}${path.startsWith("/") ? "" : "/"}${path}`;

/** Runs `fn` on a logged-in session and closes it; any failure is classified. */
async function withSession<T>(env: Env, cfg: FtpTarget, opts: DeliveryOptions, fn: (s: FtpSession) => Promise<T>): Promise<T> {
  const s = await openSession(env, cfg, opts);
  try {
    return await fn(s);
  } catch (err) {
    if (err instanceof UploadRestart) throw err;
    throw connectError(err, cfg.host, ftpPort(cfg));
  } finally {
    await s.close();
  }
}

/**
 * SIZE of a file in bytes (RFC 3659; binary mode, so it counts bytes). Null when the file does
 * not exist (550); undefined when the server does not implement SIZE.
 */
async function remoteSize(s: FtpSession, path: string, host: string): Promise<number | null | undefined> {
  const r = await s.send(`SIZE ${path}`);
  if (r.code === 213) {
    // Some servers answer an empty file's SIZE without the number (ftp-srv does).
    const n = firstLine(r).trim();
    return /^\d+$/.test(n) ? Number(n) : undefined;
  }
  if (r.code === 550) return null;
  if (r.code === 500 || r.code === 502 || r.code === 504) return undefined;
  throw replyError(r, `SIZE of ${path}`, host);
}

/** STOR (replace) or APPE (append) `bytes` to `path` over a passive data connection. */
async function transfer(s: FtpSession, cfg: FtpTarget, command: "STOR" | "APPE", path: string, bytes: Uint8Array, opts: DeliveryOptions): Promise<void> {
  const data = await s.openData();
  const r = await s.send(`${command} ${path}`);
  if (r.code !== 150 && r.code !== 125) {
    await data.close().catch(() => {});
    throw replyError(r, `upload of ${path}`, cfg.host);
  }
  // A stalled data connection fails instead of hanging: allow at least 50 KB/s.
  const budget = Math.max(opts.timeoutMs ?? 30_000, (bytes.byteLength / 50_000) * 1000);
  await withTimeout(budget, `FTP upload of ${path}`, async () => {
    const w = data.writable.getWriter();
    if (bytes.byteLength) await w.write(bytes);
    await w.close();
  });
  const done = await s.reply();
  if (done.code !== 226 && done.code !== 250) throw replyError(done, `upload of ${path}`, cfg.host);
}

/**
 * FTP/FTPS as a resumable upload: parts go to a temporary name next to the destination (part 1
 * with STOR, which starts the file over; the others with APPE), and complete renames it, so the
 * destination never shows half a file. FTP cannot truncate, so before appending a part the
 * temp file's SIZE must equal the bytes acknowledged: a part whose earlier try got through is
 * not appended again, and any other size starts the upload over from part 1 (UploadRestart).
 */
export const ftpDriver: TargetDriver<FtpTarget, FtpUploadState> = {
  async test(env, cfg, opts = {}) {
    const s = await openSession(env, cfg, opts);
    await s.close();
  },

  async begin(s, cfg, file, ctx, opts = {}) {
    const path = expandTemplate(cfg.path, file, ctx);
    // Logs in (wrong credentials fail here, before any data moves) and makes the directories.
    await withSession(s.env, cfg, opts, (ftp) => ensureDirs(ftp, path));
    const part_size = choosePartSize(file.size, opts.partBytes ?? STREAM_PART_BYTES);
    return { size: file.size, part_size, sent: 0, path, temp: `${path}.part-${ctx.runId}` };
  },

  async putPart(s, cfg, state, n, bytes, opts = {}) {
    const range = partRange(state, n);
    if (bytes.byteLength !== range.length) throw new Error(`part ${n} has ${bytes.byteLength} bytes, expected ${range.length}`);
    return withSession(s.env, cfg, opts, async (ftp) => {
      if (n === 1) {
        await transfer(ftp, cfg, "STOR", state.temp, bytes, opts);
      } else {
        const before = await remoteSize(ftp, state.temp, cfg.host);
        if (before === range.offset + range.length) return { ...state, sent: before }; // sent by an earlier try
        if (before !== undefined && before !== range.offset) {
          throw new UploadRestart(`${state.temp} on ${cfg.host} has ${before ?? "no"} bytes where ${range.offset} were sent`);
        }
        await transfer(ftp, cfg, "APPE", state.temp, bytes, opts);
      }
      const after = await remoteSize(ftp, state.temp, cfg.host);
      if (after !== undefined && after !== range.offset + range.length) {
        throw new UploadRestart(`${state.temp} on ${cfg.host} has ${after ?? "no"} bytes after part ${n}, expected ${range.offset + range.length}`);
      }
      return { ...state, sent: range.offset + range.length };
    });
  },

  async complete(s, cfg, state, opts = {}) {
    return withSession(s.env, cfg, opts, async (ftp) => {
      if (state.size === 0) await transfer(ftp, cfg, "STOR", state.temp, new Uint8Array(0), opts);
      const size = await remoteSize(ftp, state.temp, cfg.host);
      if (size === null) {
        // Renamed by an earlier try whose answer was lost?
        if ((await remoteSize(ftp, state.path, cfg.host)) === state.size) return { location: locationOf(cfg, state.path) };
        throw new UploadRestart(`${state.temp} is gone from ${cfg.host}`);
      }
      if (size !== undefined && size !== state.size) throw new UploadRestart(`${state.temp} on ${cfg.host} has ${size} bytes, expected ${state.size}`);
      const rename = async () => {
        await ftp.expect(`RNFR ${state.temp}`, [350], `rename of ${state.temp}`);
        return ftp.send(`RNTO ${state.path}`);
      };
      let to = await rename();
      if (to.code === 550 || to.code === 553) {
        // Servers that do not rename over an existing file (a file from an earlier run).
        await ftp.send(`DELE ${state.path}`);
        to = await rename();
      }
      if (to.code !== 250) throw replyError(to, `rename of ${state.temp} to ${state.path}`, cfg.host);
      return { location: locationOf(cfg, state.path) };
    });
  },

  async abort(s, cfg, state, opts = {}) {
    await withSession(s.env, cfg, opts, async (ftp) => {
      const r = await ftp.send(`DELE ${state.temp}`);
      if (r.code !== 250 && r.code !== 200 && r.code !== 550) throw replyError(r, `delete of ${state.temp}`, cfg.host);
    });
  },
};
