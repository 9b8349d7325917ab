/**
 * Decryption of OpenPGP source files (`.gpg`, `.pgp`; binary or ASCII-armored) with the
 * source's `decryption_key`. The first link of an encrypted file's chain downloads it whole,
 * decrypts it, and writes the plain file to R2 (a staged copy at `stagedKey`); every link,
 * that one included, then reads the staged copy by range like any other file (NDJSON, CSV,
 * gzip, Parquet), and the copy is deleted when the file is done or failed.
 *
 * Whole-file, with limits, rather than streamed: an OpenPGP message authenticates its content
 * only at its end (the MDC or the last AEAD chunk), and openpgp holds back the decrypted data
 * until then unless told to release unauthenticated data; ingesting rows that may turn out
 * forged is not acceptable, and a range reader cannot enter an encrypted stream in the middle
 * anyway. So the whole message is in memory once: the ciphertext (at most
 * MAX_ENCRYPTED_SOURCE_BYTES), openpgp's decrypted copy, and the plain text (at most
 * MAX_DECRYPTED_SOURCE_BYTES, which also stops a compressed message that unpacks to gigabytes),
 * together well inside the 128 MB an isolate may use.
 * https://developers.cloudflare.com/workers/platform/limits/#memory
 * Bigger files are refused with a reason that says what to do (split them, or send them
 * unencrypted over the bucket's own encryption).
 */
import { type PrivateKey, config as openpgpConfig, decrypt, decryptKey, readMessage, readPrivateKey } from "openpgp";
import type { SourceFile } from "../../db/schema";
import { TargetError } from "../../targets/types";
import type { SourceStorage } from "./storage";

const MiB = 1024 * 1024;
/** The largest encrypted file decrypted (whole, in memory; see the top of this file). */
export const MAX_ENCRYPTED_SOURCE_BYTES = 16 * MiB;
/** The largest plain text one encrypted file may hold (OpenPGP messages are often compressed). */
export const MAX_DECRYPTED_SOURCE_BYTES = 32 * MiB;

/** Where the decrypted copy of a source file version is kept while it is ingested. */
export const stagedKey = (f: Pick<SourceFile, "tenant_id" | "id">) => `sources/${f.tenant_id}/decrypted/${f.id}`;

export class DecryptionError extends Error {}

/** Reads the armored private key and unlocks it with the passphrase; DecryptionError says what is wrong. */
export async function readDecryptionKey(armored: string, passphrase: string | undefined): Promise<PrivateKey> {
  let key: PrivateKey;
  try {
    key = await readPrivateKey({ armoredKey: armored });
  } catch (err) {
    throw new DecryptionError(`decryption_key is not an ASCII-armored OpenPGP private key (${(err as Error).message}); export it with gpg --armor --export-secret-keys <id>`);
  }
  if (key.isDecrypted()) return key;
  if (!passphrase) throw new DecryptionError("decryption_key is protected by a passphrase; give it as decryption_passphrase");
  try {
    return await decryptKey({ privateKey: key, passphrase });
  } catch (err) {
    throw new DecryptionError(`decryption_passphrase does not unlock decryption_key (${(err as Error).message})`);
  }
}

const ARMOR = "-----BEGIN PGP MESSAGE-----";

/** Is `bytes` an ASCII-armored message (optionally after whitespace or a UTF-8 BOM)? */
function isArmored(bytes: Uint8Array): boolean {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return new TextDecoder().decode(bytes.subarray(i, i + ARMOR.length)) === ARMOR;
}

/**
 * Decrypts the file version `f` from the source into the staged copy in R2 and answers its
 * size. A file that cannot be decrypted (too big, not OpenPGP, another key, tampered with)
 * is a DecryptionError whose message a person can act on; download errors stay TargetErrors
 * (retried by the chain).
 */
export async function decryptToStaging(files: R2Bucket, storage: SourceStorage, f: SourceFile, key: PrivateKey): Promise<number> {
  if (f.size > MAX_ENCRYPTED_SOURCE_BYTES) {
    throw new DecryptionError(
      `${f.key} is ${f.size} bytes; encrypted files are decrypted whole in memory and may be at most ${MAX_ENCRYPTED_SOURCE_BYTES} bytes (16 MiB): split it into smaller encrypted files, or upload it unencrypted and rely on the bucket's encryption at rest`,
    );
  }
  if (f.size === 0) throw new DecryptionError(`${f.key} is empty, not an OpenPGP message`);
  const bytes = await storage.range(f.key, f.etag, 0, f.size);
  let message: Awaited<ReturnType<typeof readMessage>>;
  try {
    message = isArmored(bytes) ? await readMessage({ armoredMessage: new TextDecoder().decode(bytes) }) : await readMessage({ binaryMessage: bytes });
  } catch (err) {
    throw new DecryptionError(`${f.key} is not an OpenPGP message (${(err as Error).message})`);
  }
  let plain: Uint8Array;
  try {
    const out = await decrypt({
      message,
      decryptionKeys: key,
      format: "binary",
      config: { ...openpgpConfig, maxDecompressedMessageSize: MAX_DECRYPTED_SOURCE_BYTES },
    });
    plain = out.data as Uint8Array;
  } catch (err) {
    const why = (err as Error).message;
    if (/decompressed|too large|maxDecompressedMessageSize/i.test(why)) {
      throw new DecryptionError(`${f.key} decrypts to more than ${MAX_DECRYPTED_SOURCE_BYTES} bytes (32 MiB), the most one encrypted file may hold; split it into smaller files`);
    }
    if (/session key|decryption key packets/i.test(why)) {
      throw new DecryptionError(`${f.key} was not encrypted to this source's decryption_key (${why}); encrypt it to the key's public part, or set the key it was encrypted to`);
    }
    throw new DecryptionError(`${f.key} could not be decrypted (${why})`);
  }
  if (plain.byteLength > MAX_DECRYPTED_SOURCE_BYTES) {
    throw new DecryptionError(`${f.key} decrypts to ${plain.byteLength} bytes, more than the ${MAX_DECRYPTED_SOURCE_BYTES} (32 MiB) one encrypted file may hold; split it into smaller files`);
  }
  await files.put(stagedKey(f), plain);
  return plain.byteLength;
}

/** Reads the staged decrypted copy of a file version from R2, with the interface of a source. */
export function stagedStorage(files: R2Bucket, f: Pick<SourceFile, "tenant_id" | "id" | "key">): SourceStorage {
  const key = stagedKey(f);
  const gone = () => new TargetError("transient", `the decrypted copy of ${f.key} is missing from R2`);
  return {
    location: `r2://${key}`,
    list: async () => ({ objects: [], cursor: null }),
    async range(_key, _etag, offset, length) {
      const o = await files.get(key, { range: { offset, length } });
      if (!o) throw gone();
      return new Uint8Array(await o.arrayBuffer());
    },
    async stream() {
      const o = await files.get(key);
      if (!o) throw gone();
      return o.body;
    },
  };
}
