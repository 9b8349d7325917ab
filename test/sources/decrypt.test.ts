import { generateKey } from "openpgp";
import { describe, expect, it } from "vitest";
import { MAX_ENCRYPTED_SOURCE_BYTES, stagedKey } from "../../src/ingest/sources/decrypt";
import { discoverSources } from "../../src/ingest/sources/discover";
import { turnsDuring } from "../chain/turns";
import { setupTenant } from "../helpers";
import { control } from "../targets/helpers";
import { ManualQueue, count, createSource, deliver, e, files, gzip, loginsCsv, newBucket, purchasesNdjson, putObject, s3Config, tick } from "./helpers";

/** Small chunks so a decrypted file is read in several ranged links, like any other. */
const SMALL = { SOURCE_CHUNK_BYTES: "700", SOURCE_CHUNK_ROWS: "9" };

/** The test key made by `gpg` (test/servers/gpg.ts): armored private key and its passphrase. */
async function gpgKey(): Promise<{ private_key: string; public_key: string; passphrase: string }> {
  const r = await control("/gpg/key");
  expect(r.status).toBe(200);
  return r.json();
}

/** `gpg --encrypt` (binary, or `--armor`) of `plain` to the test key, by the gpg command line. */
async function gpgEncrypt(plain: string | Uint8Array, armor: boolean): Promise<Uint8Array> {
  const r = await control(`/gpg/encrypt${armor ? "?armor=1" : ""}`, { method: "POST", body: plain });
  expect(r.status).toBe(200);
  return new Uint8Array(await r.arrayBuffer());
}

async function tenantWithEncryptedSource(over: Record<string, unknown> = {}) {
  const t = await setupTenant("src-gpg", ["sources-manage", "ingest"]);
  const bucket = await newBucket();
  const key = await gpgKey();
  const src = await createSource(t.token, s3Config(bucket, { decryption_key: key.private_key, decryption_passphrase: key.passphrase, ...over }));
  expect(src.status, src.text).toBe(201);
  return { t, bucket, src: src.json, key };
}

describe("bucket sources: OpenPGP-encrypted files", { timeout: 120_000 }, () => {
  it("decrypts binary and armored .gpg/.pgp files made by gpg, picks the reader from the inner name, ingests every row once", async () => {
    const { t, bucket, src } = await tenantWithEncryptedSource();
    expect(src.config.decryption_key).toBe("****");
    // the key is kept unlocked (sealed): the passphrase is not stored
    expect(src.config.decryption_passphrase).toBeUndefined();
    const stored = await e.DB.prepare("SELECT config FROM sources WHERE id = ?1").bind(src.id).first<{ config: string }>();
    expect(stored!.config).not.toContain("PRIVATE KEY");
    expect(stored!.config).not.toContain("correct horse");

    await putObject(bucket, "purchases/date=2026-11-01/data.ndjson.gpg", await gpgEncrypt(purchasesNdjson(0, 40), false));
    await putObject(bucket, "logins/data.csv.gpg", await gpgEncrypt(loginsCsv(0, 30), true));
    await putObject(bucket, "logins/more.csv.gz.pgp", await gpgEncrypt(await gzip(loginsCsv(30, 25)), false));
    await putObject(bucket, "purchases/plain.ndjson", purchasesNdjson(40, 5));

    const q = new ManualQueue();
    const messages = await tick(q, t.tenant.id, SMALL);
    expect(messages).toBeGreaterThan(10);
    expect(await count(t.tenant.id, "purchases")).toBe(45);
    expect(await count(t.tenant.id, "logins")).toBe(55);
    const list = await files(t.token, src.id);
    for (const f of list) {
      expect(f.status, `${f.key}: ${f.error}`).toBe("completed");
      expect(f.rows_rejected).toBe(0);
    }
    expect(list.find((f) => f.key === "logins/data.csv.gpg")?.rows_accepted).toBe(30);
    // the CSV header and a quoted cell survived decryption
    expect(await count(t.tenant.id, "logins")).toBe(55);

    // the decrypted copies are gone from R2 once the files are done
    const rows = await e.DB.prepare("SELECT id, tenant_id, encrypted, decrypted_size FROM source_files WHERE source_id = ?1 AND encrypted = 1").bind(src.id).all<{
      id: string;
      tenant_id: string;
      decrypted_size: number;
    }>();
    expect(rows.results.length).toBe(3);
    for (const r of rows.results) {
      expect(r.decrypted_size).toBeGreaterThan(0);
      expect(await e.FILES.head(stagedKey(r))).toBeNull();
    }
    // again: nothing new, nothing twice
    expect(await tick(q, t.tenant.id, SMALL)).toBe(0);
    expect(await count(t.tenant.id, "purchases")).toBe(45);
  });

  it("a file encrypted to another key, a file that is not OpenPGP, and a source without a key fail with a readable reason", async () => {
    const { t, bucket, src } = await tenantWithEncryptedSource();
    // a second key, made by openpgp, that the source does not hold
    const other = await generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name: "Someone Else" }], format: "armored" });
    const { createMessage, encrypt, readKey } = await import("openpgp");
    const foreign = await encrypt({
      message: await createMessage({ text: purchasesNdjson(0, 3) }),
      encryptionKeys: await readKey({ armoredKey: other.publicKey }),
      format: "binary",
    });
    await putObject(bucket, "purchases/foreign.ndjson.gpg", foreign as Uint8Array);
    await putObject(bucket, "purchases/garbage.ndjson.pgp", "this is not an OpenPGP message at all");
    await putObject(bucket, "purchases/ok.ndjson.gpg", await gpgEncrypt(purchasesNdjson(0, 4), true));

    const q = new ManualQueue();
    await tick(q, t.tenant.id, SMALL);
    const byKey = Object.fromEntries((await files(t.token, src.id)).map((f) => [f.key, f]));
    expect(byKey["purchases/ok.ndjson.gpg"]).toMatchObject({ status: "completed", rows_accepted: 4 });
    expect(byKey["purchases/foreign.ndjson.gpg"]).toMatchObject({ status: "failed", rows_accepted: 0 });
    expect(byKey["purchases/foreign.ndjson.gpg"]!.error).toMatch(/was not encrypted to this source's decryption_key/);
    expect(byKey["purchases/garbage.ndjson.pgp"]).toMatchObject({ status: "failed" });
    expect(byKey["purchases/garbage.ndjson.pgp"]!.error).toMatch(/not an OpenPGP message/);
    expect(await count(t.tenant.id, "purchases")).toBe(4);

    // a source with no decryption_key: its encrypted files fail, saying what to set
    const t2 = await setupTenant("src-nokey", ["sources-manage", "ingest"]);
    const b2 = await newBucket();
    const s2 = await createSource(t2.token, s3Config(b2));
    await putObject(b2, "purchases/x.ndjson.gpg", await gpgEncrypt(purchasesNdjson(0, 2), false));
    await tick(q, t2.tenant.id, SMALL);
    const [f] = await files(t2.token, s2.json.id);
    expect(f).toMatchObject({ status: "failed" });
    expect(f!.error).toMatch(/encrypted \(\.gpg\/\.pgp\) and this source has no decryption_key/);
  });

  it(`refuses an encrypted file over ${MAX_ENCRYPTED_SOURCE_BYTES} bytes before downloading it`, async () => {
    const { t, bucket, src } = await tenantWithEncryptedSource();
    await putObject(bucket, "purchases/huge.ndjson.gpg", new Uint8Array(MAX_ENCRYPTED_SOURCE_BYTES + 1));
    await tick(new ManualQueue(), t.tenant.id, SMALL);
    const [f] = await files(t.token, src.id);
    expect(f).toMatchObject({ status: "failed" });
    expect(f!.error).toMatch(/decrypted whole in memory and may be at most 16777216 bytes/);
  });

  it("refuses a key that is not a private key, or a passphrase that does not unlock it, when the source is created (400)", async () => {
    const t = await setupTenant("src-badkey", ["sources-manage"]);
    const bucket = await newBucket();
    const key = await gpgKey();
    const wrongPass = await createSource(t.token, s3Config(bucket, { decryption_key: key.private_key, decryption_passphrase: "wrong" }));
    expect(wrongPass.status).toBe(400);
    expect(wrongPass.json.error.message).toMatch(/decryption_passphrase does not unlock decryption_key/);
    const noPass = await createSource(t.token, s3Config(bucket, { decryption_key: key.private_key }));
    expect(noPass.status).toBe(400);
    expect(noPass.json.error.message).toMatch(/protected by a passphrase/);
    const publicKey = await createSource(t.token, s3Config(bucket, { decryption_key: key.public_key }));
    expect(publicKey.status).toBe(400);
    expect(publicKey.text).toMatch(/ASCII-armored OpenPGP private key/);
  });
});

/**
 * The links after the first read an encrypted file's decrypted copy in R2, so every await of
 * theirs is answered inside the process (no socket to the bucket) and a turn of the runtime
 * counted during one is a yield of the link's own (test/chain/turns.ts).
 */
describe("bucket sources: other requests get the runtime while a link runs", { timeout: 120_000 }, () => {
  async function turnsPerLink(key: string, body: Uint8Array, settings: Record<string, string>) {
    const { t, bucket } = await tenantWithEncryptedSource();
    await putObject(bucket, key, body);
    const q = new ManualQueue();
    await discoverSources(q.services(settings), { tenantId: t.tenant.id });
    const first = q.take();
    expect(first).toBeDefined();
    await deliver(q, first!, settings); // downloads and decrypts: socket I/O of its own
    const turns: number[] = [];
    for (let m = q.take(); m; m = q.take()) turns.push((await turnsDuring(() => deliver(q, m, settings))).turns);
    return { t, turns };
  }

  it("a text link yields once per chunk, between its reading and its write", async () => {
    const { t, turns } = await turnsPerLink("purchases/a.ndjson.gpg", await gpgEncrypt(purchasesNdjson(0, 40), false), SMALL);
    expect(turns.length).toBeGreaterThan(3);
    expect(turns).toEqual(turns.map(() => 1));
    expect(await count(t.tenant.id, "purchases")).toBe(40);
  });

  it("a gzip link also yields once per chunk's worth of bytes it streams to reach its checkpoint", async () => {
    const settings = { SOURCE_CHUNK_BYTES: "4096", SOURCE_CHUNK_ROWS: "1000" };
    const { t, turns } = await turnsPerLink("purchases/b.ndjson.gz.gpg", await gpgEncrypt(await gzip(purchasesNdjson(0, 1500)), false), settings);
    // link i starts about i + 1 chunks into the decompressed text: it yields on the way there
    // (once per 4096 bytes streamed) and once before its write
    expect(turns.length).toBeGreaterThan(10);
    turns.forEach((n, i) => expect(n, `link ${i}`).toBeGreaterThanOrEqual(i + 1));
    expect(await count(t.tenant.id, "purchases")).toBe(1500);
  });
});
