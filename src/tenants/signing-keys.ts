import { type JWK, exportJWK, generateKeyPair, importJWK } from "jose";
import { getSigningKey, insertActiveSigningKey, listSigningKeys as listSigningKeyRows, retireSigningKey as retireSigningKeyRow } from "../db/tenants";
import type { SigningKey } from "../db/schema";
import { randomId } from "../lib/ids";
import type { Services } from "../services";

/** Access tokens are signed with ES256 (ECDSA P-256); nothing else is accepted on verify. */
export const TOKEN_ALG = "ES256";

/** How long one isolate trusts its copy of the key set before reading it again. */
const KEYSET_CACHE_MS = 60_000;

interface Keyset {
  /** s.clock.now() when read */
  loadedAt: number;
  /** Keys that verify tokens (active + previous), by kid. */
  verify: Map<string, CryptoKey>;
  publicJwks: JWK[];
  active: SigningKey | null;
}

let cached: Keyset | null = null;
let signer: { kid: string; key: CryptoKey } | null = null;

async function loadKeyset(s: Services): Promise<Keyset> {
  const rows = await listSigningKeyRows(s.db, { live: true });
  const verify = new Map<string, CryptoKey>();
  const publicJwks: JWK[] = [];
  for (const row of rows) {
    const jwk = JSON.parse(row.public_jwk) as JWK;
    verify.set(row.kid, (await importJWK(jwk, row.alg)) as CryptoKey);
    publicJwks.push({ ...jwk, kid: row.kid, alg: row.alg, use: "sig" });
  }
  return { loadedAt: s.clock.now(), verify, publicJwks, active: rows.find((r) => r.status === "active") ?? null };
}

/** Age of the cached key set; a set read "in the future" (a test clock moved back) counts as stale. */
const ageOf = (s: Services, ks: Keyset) => {
  const age = s.clock.now() - ks.loadedAt;
  return age < 0 ? Number.POSITIVE_INFINITY : age;
};

async function keyset(s: Services, fresh = false): Promise<Keyset> {
  if (!fresh && cached && ageOf(s, cached) < KEYSET_CACHE_MS) return cached;
  cached = await loadKeyset(s);
  return cached;
}

/** Forget this isolate's cached keys (after rotation or retirement). */
export function invalidateKeyCache(): void {
  cached = null;
  signer = null;
}

async function insertKey(s: Services): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
  const kid = `k_${randomId(16)}`;
  await insertActiveSigningKey(s.db, {
    kid,
    alg: TOKEN_ALG,
    status: "active",
    public_jwk: JSON.stringify(await exportJWK(publicKey)),
    private_jwk_sealed: await s.secrets.seal(JSON.stringify(await exportJWK(privateKey))),
    created_at: s.clock.seconds(),
    retired_at: null,
  });
  invalidateKeyCache();
  return kid;
}

/** The key new tokens are signed with; created on first use. */
export async function activeSigner(s: Services): Promise<{ kid: string; key: CryptoKey }> {
  let ks = await keyset(s);
  if (ks.active && signer?.kid === ks.active.kid) return signer;
  if (!ks.active) {
    await insertKey(s);
    ks = await keyset(s, true);
  }
  const active = ks.active;
  if (!active) throw new Error("no active signing key");
  const jwk = JSON.parse(await s.secrets.unseal(active.private_jwk_sealed)) as JWK;
  signer = { kid: active.kid, key: (await importJWK(jwk, active.alg)) as CryptoKey };
  return signer;
}

/**
 * The verification key for a token's `kid`. An unknown kid re-reads the key set once
 * (it may have been rotated in by another isolate) before giving up.
 */
export async function verificationKey(s: Services, kid: string | undefined): Promise<CryptoKey | null> {
  if (!kid) return null;
  let ks = await keyset(s);
  let key = ks.verify.get(kid);
  if (!key && ageOf(s, ks) > 1000) {
    ks = await keyset(s, true);
    key = ks.verify.get(kid);
  }
  return key ?? null;
}

/** Public keys for `/.well-known/jwks.json` (active and previous). */
export async function publicJwks(s: Services): Promise<JWK[]> {
  const ks = await keyset(s);
  if (!ks.active) {
    await activeSigner(s);
    return (await keyset(s)).publicJwks;
  }
  return ks.publicJwks;
}

/** Makes a new active key; the old one keeps verifying until retired. */
export async function rotateSigningKey(s: Services): Promise<string> {
  return insertKey(s);
}

/** Retires a previous key: tokens it signed stop verifying. The active key cannot be retired. */
export async function retireSigningKey(s: Services, kid: string): Promise<"retired" | "not_found" | "active"> {
  const row = await getSigningKey(s.db, kid);
  if (!row || row.status === "retired") return "not_found";
  if (row.status === "active") return "active";
  // false: retired by another request between the read and this write.
  if (!(await retireSigningKeyRow(s.db, kid, s.clock.seconds()))) return "not_found";
  invalidateKeyCache();
  return "retired";
}

/** Every signing key, for the admin API: never the key material. */
export async function listSigningKeys(s: Services) {
  const rows = await listSigningKeyRows(s.db);
  return rows.map(({ kid, alg, status, created_at, retired_at }) => ({ kid, alg, status, created_at, retired_at }));
}
