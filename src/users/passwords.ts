import { fromBase64, toBase64Url } from "../lib/crypto";

/**
 * Password hashing: PBKDF2-HMAC-SHA256 through Web Crypto, a 16-byte random salt, 256 bits out.
 *
 * 100,000 iterations is the most the Workers runtime allows: deployed Workers refuse a larger
 * count ("Pbkdf2 failed: iteration counts above 100000 are not supported"), while the workerd
 * behind `wrangler dev` and the tests does not enforce it, so going above would pass every
 * local test and fail every sign-in in production.
 * https://developers.cloudflare.com/workers/runtime-apis/web-crypto/ (supported algorithms)
 * https://github.com/cloudflare/workerd/issues/1346 (the 100,000 cap and why it exists)
 * The count is stored with each hash, so it can be raised later without breaking old ones.
 */
export const PBKDF2_MAX_ITERATIONS = 100_000;
export const PBKDF2_ITERATIONS = PBKDF2_MAX_ITERATIONS;

const encoder = new TextEncoder();

export interface PasswordHash {
  hash: string;
  salt: string;
  iterations: number;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new Error(`PBKDF2 iterations must be 1..${PBKDF2_MAX_ITERATIONS}, got ${iterations}`);
  }
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return { hash: toBase64Url(await derive(password, salt, iterations)), salt: toBase64Url(salt), iterations };
}

/** Constant-time comparison of the derived bits with the stored ones. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const got = await derive(password, fromBase64(stored.salt), stored.iterations);
  const want = fromBase64(stored.hash);
  if (got.length !== want.length) return false;
  return (crypto.subtle as SubtleCrypto & { timingSafeEqual(a: ArrayBufferView, b: ArrayBufferView): boolean }).timingSafeEqual(got, want);
}

/** A password for a new user, shown once: 18 random bytes, base64url (24 characters). */
export function randomPassword(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}
