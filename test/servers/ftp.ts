/**
 * Loopback FTP servers (ftp-srv): one plain, one with explicit TLS (AUTH TLS) that
 * refuses to log in before the channel is encrypted. Both refuse wrong passwords.
 */
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import FtpSrv from "ftp-srv";

export async function startFtp(opts: { user: string; password: string; tls?: { key: string; cert: string } }) {
  const root = mkdtempSync(join(tmpdir(), opts.tls ? "ferry-ftps-" : "ferry-ftp-"));
  // Passive data ports: a random window so parallel test runs on one machine rarely meet.
  const pasvMin = 40_000 + Math.floor(Math.random() * 200) * 100;
  const server = new FtpSrv({
    url: "ftp://127.0.0.1:0",
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
