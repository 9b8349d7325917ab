import { type JWK, exportJWK, generateKeyPair, importJWK } from "jose";
import type { Env } from "../env";
import { decryptSecret, encryptSecret } from "../lib/crypto";
import { nowSeconds } from "../db/client";
import { randomId } from "../lib/ids";

/** Access tokens are signed with ES256 (ECDSA P-256); nothing else is accepted on verify. */
export const TOKEN_ALG = "ES256";

/** How long one isolate trusts its copy of the key set before reading it again. */
const KEYSET_CACHE_MS = 60_000;

interface KeyRow {
  kid: string;
  alg: string;
  status: "active" | "previous" | "retired";
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
  retired_at: number | null;
}

interface Keyset {
  loadedAt: number;
  /** Keys that verify tokens (active + previous), by kid. */
  verify: Map<string, CryptoKey>;
  publicJwks: JWK[];
  active: { kid: string; row: KeyRow } | null;
}

let cached: Keyset | null = null;
let signer: { kid: string; key: CryptoKey } | null = null;

async function loadKeyset(env: Env): Promise<Keyset> {
  const { results } = await env.DB.prepare(
    "SELECT * FROM signing_keys WHERE status != 'retired' ORDER BY created_at DESC, kid",
  ).all<KeyRow>();
  const verify = new Map<string, CryptoKey>();
  const publicJwks: JWK[] = [];
  for (const row of results) {
    const jwk = JSON.parse(row.public_jwk) as JWK;
    verify.set(row.kid, (await importJWK(jwk, row.alg)) as CryptoKey);
    publicJwks.push({ ...jwk, kid: row.kid, alg: row.alg, use: "sig" });
  }
  const activeRow = results.find((r) => r.status === "active");
  return { loadedAt: Date.now(), verify, publicJwks, active: activeRow ? { kid: activeRow.kid, row: activeRow } : null };
}

async function keyset(env: Env, fresh = false): Promise<Keyset> {
  if (!fresh && cached && Date.now() - cached.loadedAt < KEYSET_CACHE_MS) return cached;
  cached = await loadKeyset(env);
  return cached;
}

/** Forget this isolate's cached keys (after rotation or retirement). */
export function invalidateKeyCache(): void {
  cached = null;
  signer = null;
}

async function insertKey(env: Env): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
  const kid = `k_${randomId(16)}`;
  const sealed = await encryptSecret(env.SECRETS_KEY, JSON.stringify(await exportJWK(privateKey)));
  await env.DB.batch([
    env.DB.prepare("UPDATE signing_keys SET status = 'previous' WHERE status = 'active'"),
    env.DB.prepare(
      "INSERT INTO signing_keys (kid, alg, status, public_jwk, private_jwk_sealed, created_at) VALUES (?1, ?2, 'active', ?3, ?4, ?5)",
    ).bind(kid, TOKEN_ALG, JSON.stringify(await exportJWK(publicKey)), sealed, nowSeconds()),
  ]);
  invalidateKeyCache();
  return kid;
}

/** The key new tokens are signed with; created on first use. */
export async function activeSigner(env: Env): Promise<{ kid: string; key: CryptoKey }> {
  let ks = await keyset(env);
  if (ks.active && signer?.kid === ks.active.kid) return signer;
  if (!ks.active) {
    await insertKey(env);
    ks = await keyset(env, true);
  }
  const active = ks.active;
  if (!active) throw new Error("no active signing key");
  const jwk = JSON.parse(await decryptSecret(env.SECRETS_KEY, active.row.private_jwk_sealed)) as JWK;
  signer = { kid: active.kid, key: (await importJWK(jwk, active.row.alg)) as CryptoKey };
  return signer;
}

/**
 * The verification key for a token's `kid`. An unknown kid re-reads the key set once
 * (it may have been rotated in by another isolate) before giving up.
 */
export async function verificationKey(env: Env, kid: string | undefined): Promise<CryptoKey | null> {
  if (!kid) return null;
  let ks = await keyset(env);
  let key = ks.verify.get(kid);
  if (!key && Date.now() - ks.loadedAt > 1000) {
    ks = await keyset(env, true);
    key = ks.verify.get(kid);
  }
  return key ?? null;
}

/** Public keys for `/.well-known/jwks.json` (active and previous). */
export async function publicJwks(env: Env): Promise<JWK[]> {
  const ks = await keyset(env);
  if (!ks.active) {
    await activeSigner(env);
    return (await keyset(env)).publicJwks;
  }
  return ks.publicJwks;
}

/** Makes a new active key; the old one keeps verifying until retired. */
export async function rotateSigningKey(env: Env): Promise<string> {
  return insertKey(env);
}

/** Retires a previous key: tokens it signed stop verifying. The active key cannot be retired. */
export async function retireSigningKey(env: Env, kid: string): Promise<"retired" | "not_found" | "active"> {
  const row = await env.DB.prepare("SELECT status FROM signing_keys WHERE kid = ?1").bind(kid).first<{ status: string }>();
  if (!row || row.status === "retired") return "not_found";
  if (row.status === "active") return "active";
  await env.DB.prepare("UPDATE signing_keys SET status = 'retired', retired_at = ?1 WHERE kid = ?2")
    .bind(nowSeconds(), kid)
    .run();
  invalidateKeyCache();
  return "retired";
}

export async function listSigningKeys(env: Env) {
  const { results } = await env.DB.prepare(
    "SELECT kid, alg, status, created_at, retired_at FROM signing_keys ORDER BY created_at DESC",
  ).all<Omit<KeyRow, "public_jwk" | "private_jwk_sealed">>();
  return results;
}
