import { env } from "cloudflare:workers";
import { decrypt, generateKey, readMessage, readPrivateKey } from "openpgp";
import { describe, expect, it } from "vitest";
import { encryptObject, readRecipientKey } from "../../src/exports/post/encrypt";

async function keyPair() {
  const { publicKey, privateKey } = await generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{ name: "Data Team", email: "data@example.com" }],
    format: "armored",
  });
  return { publicKey, privateKey };
}

async function decryptBytes(encrypted: Uint8Array, armoredPrivate: string): Promise<Uint8Array> {
  const message = await readMessage({ binaryMessage: encrypted });
  const { data } = await decrypt({ message, decryptionKeys: await readPrivateKey({ armoredKey: armoredPrivate }), format: "binary" });
  return data as Uint8Array;
}

describe("OpenPGP encryption of an export file", () => {
  it("streams a multi-part file into an encrypted object that decrypts to the same bytes", async () => {
    const { publicKey, privateKey } = await keyPair();
    // 11 MiB of varied bytes (incl. multi-byte UTF-8) -> the encrypted output spans three parts.
    const chunk = new TextEncoder().encode("id,name\n1,Zoë 😀 \"quoted\"\n");
    const size = 11 * 1024 * 1024;
    const plain = new Uint8Array(size);
    for (let i = 0; i < size; i += chunk.length) plain.set(chunk.subarray(0, Math.min(chunk.length, size - i)), i);
    await env.FILES.put("test-pgp/plain.csv", plain);

    const bytes = await encryptObject(env.FILES, "test-pgp/plain.csv", "test-pgp/plain.csv.pgp", publicKey);
    const obj = await env.FILES.get("test-pgp/plain.csv.pgp");
    const encrypted = new Uint8Array(await obj!.arrayBuffer());
    expect(encrypted.length).toBe(bytes);
    expect(encrypted.length).toBeGreaterThan(size);
    const decrypted = await decryptBytes(encrypted, privateKey);
    expect(decrypted.length).toBe(plain.length);
    expect(Buffer.compare(Buffer.from(decrypted), Buffer.from(plain))).toBe(0);
  });

  it("encrypts an empty file", async () => {
    const { publicKey, privateKey } = await keyPair();
    await env.FILES.put("test-pgp/empty.csv", new Uint8Array());
    await encryptObject(env.FILES, "test-pgp/empty.csv", "test-pgp/empty.csv.pgp", publicKey);
    const encrypted = new Uint8Array(await (await env.FILES.get("test-pgp/empty.csv.pgp"))!.arrayBuffer());
    expect((await decryptBytes(encrypted, privateKey)).length).toBe(0);
  });

  it("refuses garbage, a private key, and names the problem", async () => {
    const { privateKey } = await keyPair();
    await expect(readRecipientKey("not a key")).rejects.toThrow(/not an armored OpenPGP public key/);
    await expect(readRecipientKey(privateKey)).rejects.toThrow(/private key/);
  });

  it("a missing source object is an error, not an empty file", async () => {
    const { publicKey } = await keyPair();
    await expect(encryptObject(env.FILES, "test-pgp/nope.csv", "test-pgp/nope.pgp", publicKey)).rejects.toThrow(/missing/);
    expect(await env.FILES.head("test-pgp/nope.pgp")).toBeNull();
  });
});
