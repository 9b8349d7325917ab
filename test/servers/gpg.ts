/**
 * The `gpg` command line as a test fixture (Node side): one key pair made on first use in a
 * temporary GNUPGHOME, its armored private key (protected by a passphrase) for a source's
 * decryption_key, and encryption of any bytes to it, binary or ASCII-armored, exactly as a
 * customer's `gpg --encrypt` makes them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UID = "Ferry Source Test <source@ferry.test>";
const PASSPHRASE = "correct horse battery staple";

export function startGpg() {
  let home: string | null = null;
  const gpg = (args: string[], input?: Buffer) =>
    execFileSync("gpg", ["--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback", ...args], {
      env: { ...process.env, GNUPGHOME: home ?? "" },
      input,
      maxBuffer: 256 * 1024 * 1024,
    });
  const ensure = () => {
    if (home) return;
    home = mkdtempSync(join(tmpdir(), "ferry-gnupg-"));
    gpg(["--passphrase", PASSPHRASE, "--quick-gen-key", UID, "default", "default", "never"]);
  };
  return {
    key() {
      ensure();
      return {
        private_key: gpg(["--passphrase", PASSPHRASE, "--armor", "--export-secret-keys", UID]).toString(),
        public_key: gpg(["--armor", "--export", UID]).toString(),
        passphrase: PASSPHRASE,
      };
    },
    encrypt(data: Buffer, armor: boolean): Buffer {
      ensure();
      return gpg(["--trust-model", "always", "--recipient", UID, ...(armor ? ["--armor"] : []), "--encrypt", "--output", "-"], data);
    },
    close() {
      if (home) rmSync(home, { recursive: true, force: true });
    },
  };
}
