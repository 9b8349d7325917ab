import {
  getApiKeyByHashUnscoped,
  getClientUnscoped,
  insertApiKey,
  insertClient,
  insertTenant,
  listApiKeys as listApiKeyRows,
  listClients as listClientRows,
  listTenantsUnscoped,
  revokeApiKey as revokeApiKeyRow,
  revokeClient as revokeClientRow,
  updateClient as updateClientRow,
  getTenant as getTenantRow,
  setTenantRateLimits as setTenantRateLimitsRow,
} from "../db/tenants";
import type { TenantRateLimits } from "../db/schema";
import type { Principal } from "../env";
import { randomSecret, sha256Hex, timingSafeEqualStr } from "../lib/crypto";
import { newId } from "../lib/ids";
import { TtlCache } from "../lib/ttl-cache";
import type { Services } from "../services";
import { pickShard } from "../db/shards/router";

/** Every permission a client can be given. */
export const PERMISSIONS = ["automated-exports-view", "exports-manage", "ingest", "sources-manage", "segments-manage"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * How long a credential check is cached in one isolate. Revoking a client or key
 * clears the cache of the isolate that handled the revocation at once; any other
 * isolate may still accept the revoked credential for at most this long.
 */
export const CREDENTIAL_CACHE_MS = 30_000;

export async function createTenant(s: Services, name: string) {
  const tenant = { id: newId("ten"), name, shard: await pickShard(s), created_at: s.clock.seconds() };
  await insertTenant(s.db, tenant);
  return tenant;
}

export function getTenant(s: Services, id: string) {
  return getTenantRow(s.db, id);
}

/**
 * Replaces the tenant's rate-limit tiers (the scopes not given go back to the default).
 * Isolates that cached a credential of the tenant keep the old tiers for at most
 * CREDENTIAL_CACHE_MS (docs/rate-limits.md).
 */
export async function setTenantRateLimits(s: Services, tenantId: string, limits: TenantRateLimits) {
  const row = await setTenantRateLimitsRow(s.db, tenantId, limits);
  if (row) {
    apiKeyCache.clear();
    clientCache.clear();
  }
  return row;
}

export function listTenants(s: Services) {
  return listTenantsUnscoped(s.db);
}

export async function createClient(s: Services, tenantId: string, name: string, permissions: Permission[], tokenTtlSeconds: number | null = null) {
  const id = newId("cli");
  const secret = randomSecret("fcs");
  await insertClient(s.db, {
    id,
    tenant_id: tenantId,
    name,
    secret_hash: await sha256Hex(secret),
    permissions,
    created_at: s.clock.seconds(),
    revoked_at: null,
    token_ttl_seconds: tokenTtlSeconds,
  });
  return { id, secret, permissions, token_ttl_seconds: tokenTtlSeconds };
}

/**
 * Renames a client or changes the lifetime of the tokens it gets (null = the default). A
 * shorter lifetime also refuses the client's tokens issued for longer (verifyAccessToken).
 */
export async function updateClient(s: Services, tenantId: string, clientId: string, change: { name?: string; token_ttl_seconds?: number | null }) {
  const row = await updateClientRow(s.db, tenantId, clientId, change);
  clientCache.delete(clientId);
  if (!row) return undefined;
  const { secret_hash: _, ...client } = row;
  return client;
}

/** A tenant's clients, without their secret hashes. */
export async function listClients(s: Services, tenantId: string) {
  const rows = await listClientRows(s.db, tenantId);
  return rows.map(({ secret_hash: _, ...client }) => client);
}

/** Returns false when the client does not exist in that tenant or is already revoked. */
export async function revokeClient(s: Services, tenantId: string, clientId: string): Promise<boolean> {
  const revoked = await revokeClientRow(s.db, tenantId, clientId, s.clock.seconds());
  clientCache.delete(clientId);
  return revoked;
}

export async function createApiKey(s: Services, tenantId: string, name: string) {
  const id = newId("key");
  const apiKey = randomSecret("fk");
  await insertApiKey(s.db, {
    id,
    tenant_id: tenantId,
    name,
    key_hash: await sha256Hex(apiKey),
    created_at: s.clock.seconds(),
    revoked_at: null,
  });
  return { id, apiKey };
}

/** A tenant's API keys, without their hashes. */
export async function listApiKeys(s: Services, tenantId: string) {
  const rows = await listApiKeyRows(s.db, tenantId);
  return rows.map(({ key_hash: _, ...key }) => key);
}

/** Returns false when the key does not exist in that tenant or is already revoked. */
export async function revokeApiKey(s: Services, tenantId: string, keyId: string): Promise<boolean> {
  const keyHash = await revokeApiKeyRow(s.db, tenantId, keyId, s.clock.seconds());
  if (keyHash === null) return false;
  apiKeyCache.delete(keyHash);
  return true;
}

// A hash no real secret produces: unknown clients are compared against it so that
// "unknown client" and "wrong secret" take the same path and the same time.
const DUMMY_HASH = "0".repeat(64);

/** Checks client credentials. Returns the client or null; never says which part was wrong. */
export async function authenticateClient(
  s: Services,
  clientId: string,
  secret: string,
): Promise<{ id: string; tenantId: string; permissions: string[]; tokenTtlSeconds: number | null } | null> {
  const row = await getClientUnscoped(s.db, clientId);
  const ok = await timingSafeEqualStr(await sha256Hex(secret), row?.secret_hash ?? DUMMY_HASH);
  if (!row || !ok || row.revoked_at !== null) return null;
  return { id: row.id, tenantId: row.tenant_id, permissions: row.permissions, tokenTtlSeconds: row.token_ttl_seconds };
}

interface ClientState {
  tenantId: string;
  shard: number;
  rateLimits: TenantRateLimits | null;
  permissions: string[];
  active: boolean;
  /** the client's own token lifetime; null = the default */
  tokenTtlSeconds: number | null;
}
const clientCache = new TtlCache<ClientState>(CREDENTIAL_CACHE_MS);

/** Current state of a client (revoked or not, its tenant's shard), cached per isolate. */
export async function clientState(s: Services, clientId: string): Promise<ClientState | null> {
  const hit = clientCache.get(clientId, s.clock);
  if (hit) return hit;
  const row = await getClientUnscoped(s.db, clientId);
  if (!row) return null;
  const state = { tenantId: row.tenant_id, shard: row.shard, rateLimits: row.rate_limits, permissions: row.permissions, active: row.revoked_at === null, tokenTtlSeconds: row.token_ttl_seconds };
  clientCache.set(clientId, state, s.clock);
  return state;
}

const apiKeyCache = new TtlCache<Principal | null>(CREDENTIAL_CACHE_MS);

/**
 * Drops this isolate's cached credentials of a tenant, and with them its cached shard: the
 * shard refused a write because the tenant moved (src/tenants/moves.ts).
 */
export function forgetTenantCredentials(tenantId: string): void {
  clientCache.deleteWhere((c) => c.tenantId === tenantId);
  apiKeyCache.deleteWhere((p) => p?.tenantId === tenantId);
}

/** Resolves an API key to its principal (lookup by SHA-256 of the key, cached per isolate). */
export async function authenticateApiKey(s: Services, apiKey: string): Promise<Principal | null> {
  const hash = await sha256Hex(apiKey);
  const hit = apiKeyCache.get(hash, s.clock);
  if (hit !== undefined) return hit;
  const row = await getApiKeyByHashUnscoped(s.db, hash);
  const principal: Principal | null =
    row && row.revoked_at === null
      ? { kind: "api_key", tenantId: row.tenant_id, shard: row.shard, subject: row.id, permissions: ["ingest"], rateLimits: row.rate_limits }
      : null;
  apiKeyCache.set(hash, principal, s.clock);
  return principal;
}
