/**
 * The FTPS test server's certificate, made once per test run.
 *
 * workerd verifies TLS peers against its own trust store; there is no per-connection
 * "trust this CA" option and `rejectUnauthorized: false` is not implemented. Miniflare
 * adds the certificates named by NODE_EXTRA_CA_CERTS to that store, reading the
 * variable once when it is imported. So vitest.config.ts calls this before it imports
 * the Cloudflare plugin (and with it miniflare); globalSetup reads the same files.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import selfsigned from "selfsigned";

export async function prepareTestTls(): Promise<void> {
  if (process.env.FERRY_TEST_TLS_DIR && existsSync(join(process.env.FERRY_TEST_TLS_DIR, "cert.pem"))) return;
  const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] },
    ],
  } as never);
  const dir = mkdtempSync(join(tmpdir(), "ferry-tls-"));
  writeFileSync(join(dir, "cert.pem"), pems.cert);
  writeFileSync(join(dir, "key.pem"), pems.private);
  const previous = process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS) ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, "utf8") : "";
  writeFileSync(join(dir, "bundle.pem"), `${previous}\n${pems.cert}`);
  process.env.NODE_EXTRA_CA_CERTS = join(dir, "bundle.pem");
  process.env.FERRY_TEST_TLS_DIR = dir;
}

export function testTls(): { cert: string; key: string } | null {
  const dir = process.env.FERRY_TEST_TLS_DIR;
  if (!dir) return null;
  return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
}
