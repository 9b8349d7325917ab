import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { encryptStream, readRecipientKey } from "../../src/exports/post/encrypt";

/**
 * The customer's side: a key made by gpg, a file encrypted by ferry's encryption code, and
 * `gpg --decrypt` reading it back byte for byte. gpg cannot run in workerd, so this is a Node test.
 */
const home = mkdtempSync(join(tmpdir(), "ferry-gpg-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const gpg = (args: string[], input?: Buffer) =>
  execFileSync("gpg", ["--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", ...args], {
    input,
    maxBuffer: 64 * 1024 * 1024,
  });

it("gpg --decrypt reads what ferry encrypted to a gpg-made public key", async () => {
  gpg(["--quick-generate-key", "Data Team <data@example.com>", "ed25519", "default", "never"]);
  gpg(["--quick-add-key", gpg(["--list-keys", "--with-colons"]).toString().match(/^fpr:+([0-9A-F]+):/m)![1]!, "cv25519", "encr", "never"]);
  const armored = gpg(["--armor", "--export", "data@example.com"]).toString();
  const key = await readRecipientKey(armored);

  const plain = Buffer.from(Array.from({ length: 50_000 }, (_, i) => `${i},zoë 😀,"a ""quoted"" cell"\n`).join(""));
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < plain.length; i += 65_536) c.enqueue(new Uint8Array(plain.subarray(i, i + 65_536)));
      c.close();
    },
  });
  const chunks: Uint8Array[] = [];
  const reader = (await encryptStream(stream, key)).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const file = join(home, "export.csv.pgp");
  writeFileSync(file, Buffer.concat(chunks));
  const decrypted = gpg(["--decrypt", file]);
  expect(decrypted.length).toBe(plain.length);
  expect(decrypted.equals(plain)).toBe(true);
});
