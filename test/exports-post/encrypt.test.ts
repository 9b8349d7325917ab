import { env, SELF } from "cloudflare:test";
import { decrypt, generateKey, readMessage, readPrivateKey } from "openpgp";
import { describe, expect, it } from "vitest";
import { encryptObject, readRecipientKey } from "../../src/exports/post/encrypt";
import { BASE, call, setupTenant, waitFor } from "../helpers";

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

    const { bytes, sha256 } = await encryptObject(env.FILES, "test-pgp/plain.csv", "test-pgp/plain.csv.pgp", publicKey);
    const obj = await env.FILES.get("test-pgp/plain.csv.pgp");
    const encrypted = new Uint8Array(await obj!.arrayBuffer());
    expect(encrypted.length).toBe(bytes);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encrypted));
    expect(sha256).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
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

describe("an export with encryption", () => {
  it("runs to a .pgp file whose download decrypts to the CSV, with sha256 and bytes of the encrypted file", async () => {
    const { publicKey, privateKey } = await keyPair();
    const t = await setupTenant("pgp-run");
    const ing = await call("POST", "/v1/records/participations", {
      headers: { Authorization: `Bearer ${t.apiKey}` },
      body: { participations: [{ user_id: "u-1", stackinstanceid: "si-1", participation_date: "2026-11-01 10:00:00" }] },
    });
    expect(ing.status, ing.text).toBe(201);
    const bad = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "pgp-bad", model: "participations", all_fields: true, encryption: { type: "pgp", public_key: privateKey } },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/private key/);
    const exp = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "pgp-run", model: "participations", schedule: { type: "manual" }, fields: [{ from: "user_id" }, { from: "participation_date" }], encryption: { type: "pgp", public_key: publicKey } },
    });
    expect(exp.status, exp.text).toBe(201);
    const run = await call("POST", `/api/1/exports/${exp.json.id}/runs`, { token: t.token });
    const done = await waitFor(async () => {
      const r = await call("GET", `/api/1/exports/${exp.json.id}/runs/${run.json.id}`, { token: t.token });
      return r.json.status === "finished" || r.json.status === "failed" ? r.json : undefined;
    }, "the run");
    expect(done.status, done.error).toBe("finished");
    expect(done.file_name).toBe("pgp-run.csv.pgp");
    const url = new URL(done.download_url);
    const res = await SELF.fetch(`${BASE}${url.pathname}${url.search}`);
    const encrypted = new Uint8Array(await res.arrayBuffer());
    expect(encrypted.length).toBe(done.bytes);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encrypted));
    expect(done.sha256).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    expect(new TextDecoder().decode(await decryptBytes(encrypted, privateKey))).toBe("user_id,participation_date\nu-1,2026-11-01 10:00:00\n");
  });
});
