import { createMessage, encrypt, enums, readKey, type PublicKey } from "openpgp";
import { ApiError } from "../../lib/errors";
import { Sha256 } from "../../lib/sha256";

/**
 * OpenPGP encryption of a finished export to the customer's public key, so the file can be
 * decrypted with `gpg --decrypt` and nothing else. The file is streamed: R2 object ->
 * openpgp (streaming) -> R2 multipart parts of PART_SIZE bytes, so memory stays at about one
 * part whatever the file size.
 */

/** R2 multipart: every part but the last must be at least 5 MiB and all the same size.
 * https://developers.cloudflare.com/r2/objects/multipart-objects/ */
export const ENCRYPT_PART_SIZE = 5 * 1024 * 1024;

/** Parses and checks an armored public key: it must be a public key that can encrypt. */
export async function readRecipientKey(armored: string): Promise<PublicKey> {
  let key: Awaited<ReturnType<typeof readKey>>;
  try {
    key = await readKey({ armoredKey: armored });
  } catch (err) {
    throw new ApiError("validation_failed", `encryption.public_key is not an armored OpenPGP public key: ${(err as Error).message}`);
  }
  if (key.isPrivate()) {
    throw new ApiError("validation_failed", "encryption.public_key is a private key; paste the public key (gpg --armor --export <id>)");
  }
  try {
    await key.getEncryptionKey();
  } catch (err) {
    throw new ApiError("validation_failed", `encryption.public_key has no usable encryption subkey: ${(err as Error).message}`);
  }
  return key as PublicKey;
}

/** Encrypts a byte stream to `key`; binary OpenPGP message (what `gpg --decrypt` reads). */
export async function encryptStream(input: ReadableStream<Uint8Array>, key: PublicKey): Promise<ReadableStream<Uint8Array>> {
  const message = await createMessage({ binary: input, format: "binary" });
  return (await encrypt({
    message,
    encryptionKeys: key,
    format: "binary",
    config: { preferredCompressionAlgorithm: enums.compression.uncompressed },
  })) as unknown as ReadableStream<Uint8Array>;
}

/**
 * Writes `stream` into R2 under `key` as a multipart upload with equal-size parts, aborting the
 * upload if anything fails. Returns the number of bytes written.
 */
export async function streamToR2(
  bucket: R2Bucket,
  key: string,
  stream: ReadableStream<Uint8Array>,
  contentType: string,
  partSize = ENCRYPT_PART_SIZE,
): Promise<{ bytes: number; sha256: string }> {
  const hash = new Sha256();
  const upload = await bucket.createMultipartUpload(key, { httpMetadata: { contentType } });
  const parts: R2UploadedPart[] = [];
  const buffer = new Uint8Array(partSize);
  let filled = 0;
  let total = 0;
  try {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      let offset = 0;
      while (offset < value.length) {
        const n = Math.min(partSize - filled, value.length - offset);
        buffer.set(value.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === partSize) {
          parts.push(await upload.uploadPart(parts.length + 1, buffer.slice()));
          total += filled;
          filled = 0;
        }
      }
    }
    if (filled > 0 || parts.length === 0) {
      parts.push(await upload.uploadPart(parts.length + 1, buffer.slice(0, filled)));
      total += filled;
    }
    await upload.complete(parts);
    return { bytes: total, sha256: hash.digestHex() };
  } catch (err) {
    await upload.abort().catch(() => {});
    throw err;
  }
}

/** Encrypts the R2 object `srcKey` into `dstKey`. Returns the encrypted file's size and sha256. */
export async function encryptObject(bucket: R2Bucket, srcKey: string, dstKey: string, armoredKey: string): Promise<{ bytes: number; sha256: string }> {
  const key = await readRecipientKey(armoredKey);
  const src = await bucket.get(srcKey);
  if (!src) throw new Error(`export file ${srcKey} is missing`);
  return streamToR2(bucket, dstKey, await encryptStream(src.body, key), "application/pgp-encrypted");
}
