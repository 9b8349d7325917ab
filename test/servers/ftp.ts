/**
 * Loopback FTP servers (ftp-srv): one plain, one with explicit TLS (AUTH TLS) that
 * refuses to log in before the channel is encrypted, one with implicit TLS (TLS from the
 * first byte, as on port 990). All refuse wrong passwords.
 */
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import tls from "node:tls";
import FtpSrv from "ftp-srv";

/**
 * ftp-srv's AUTH TLS writes "234" and wraps the socket in TLS only once the write has
 * completed, so a quick client's ClientHello can reach the plain-text command parser
 * first (it happens on loopback). Real servers switch before the client can answer:
 * this handler queues the 234 and wraps the socket in the same tick.
 */
const registry = createRequire(import.meta.url)("ftp-srv/src/commands/registry") as Record<string, { handler: unknown }>;
registry.AUTH!.handler = function (this: any, { command }: { command: { arg: string } }) {
  if (String(command.arg).toUpperCase() !== "TLS") return this.reply(504);
  if (!this.server.options.tls) return this.reply(502);
  if (this.secure) return this.reply(202);
  const raw = this.commandSocket;
  raw.write("234 Honored\r\n");
  const secureSocket = new tls.TLSSocket(raw, { isServer: true, secureContext: tls.createSecureContext(this.server.options.tls) });
  for (const event of ["data", "timeout", "end", "close", "drain", "error"]) {
    secureSocket.on(event, (...args: unknown[]) => raw.emit(event, ...args));
  }
  this.commandSocket = secureSocket;
  this.secure = true;
  return Promise.resolve();
};

export async function startFtp(opts: { user: string; password: string; tls?: { key: string; cert: string }; implicit?: boolean }) {
  const root = mkdtempSync(join(tmpdir(), opts.tls ? "ferry-ftps-" : "ferry-ftp-"));
  // Passive data ports: a random window so parallel test runs on one machine rarely meet.
  const pasvMin = 40_000 + Math.floor(Math.random() * 200) * 100;
  const server = new FtpSrv({
    // ftps:// with tls options: ftp-srv listens with tls.createServer (implicit TLS).
    url: opts.implicit ? "ftps://127.0.0.1:0" : "ftp://127.0.0.1:0",
    pasv_url: "127.0.0.1",
    pasv_min: pasvMin,
    pasv_max: pasvMin + 99,
    anonymous: false,
    greeting: ["ferry test FTP server"],
    ...(opts.tls ? { tls: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
    log: silentLogger() as never,
  });
  server.on("login", ({ connection, username, password }, resolve, reject) => {
    if (opts.tls && !connection.secure) return reject(new Error("TLS required: send AUTH TLS first"));
    if (username !== opts.user || password !== opts.password) return reject(new Error("Invalid username or password"));
    resolve({ root });
  });
  await server.listen();
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    port,
    root,
    async close() {
      await server.close();
    },
  };
}

function silentLogger() {
  const noop = () => {};
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => logger };
  return logger;
}
