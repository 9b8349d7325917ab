import { and, eq, isNull } from "drizzle-orm";
import { controlDb, nowSeconds } from "../db/client";
import { api_keys as apiKeys, clients, tenants } from "../db/schema";
import type { Env, Principal } from "../env";
import { randomSecret, sha256Hex, timingSafeEqualStr } from "../lib/crypto";
import { newId } from "../lib/ids";
import { TtlCache } from "../lib/ttl-cache";
import { pickShard } from "../services/shards";

/** Every permission a client can be given. */
export const PERMISSIONS = ["automated-exports-view", "exports-manage", "ingest", "sources-manage"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * How long a credential check is cached in one isolate. Revoking a client or key
 * clears the cache of the isolate that handled the revocation at once; any other
 * isolate may still accept the revoked credential for at most this long.
 */
export const CREDENTIAL_CACHE_MS = 30_000;

export async function createTenant(env: Env, name: string) {
  const tenant = { id: newId("ten"), name, shard: await pickShard(env), created_at: nowSeconds() };
  await controlDb(env).insert(tenants).values(tenant);
  return tenant;
}

export async function getTenant(env: Env, id: string) {
  return controlDb(env).select().from(tenants).where(eq(tenants.id, id)).get();
}

export async function listTenants(env: Env) {
  return controlDb(env).select().from(tenants).all();
}

export async function createClient(env: Env, tenantId: string, name: string, permissions: Permission[]) {
  const id = newId("cli");
  const secret = randomSecret("fcs");
  await controlDb(env)
    .insert(clients)
    .values({ id, tenant_id: tenantId, name, secret_hash: await sha256Hex(secret), permissions, created_at: nowSeconds() });
  return { id, secret, permissions };
}

export async function listClients(env: Env, tenantId: string) {
  return controlDb(env)
    .select({
      id: clients.id,
      name: clients.name,
      permissions: clients.permissions,
      createdAt: clients.created_at,
      revokedAt: clients.revoked_at,
    })
    .from(clients)
    .where(eq(clients.tenant_id, tenantId))
    .all();
}

/** Returns false when the client does not exist in that tenant or is already revoked. */
export async function revokeClient(env: Env, tenantId: string, clientId: string): Promise<boolean> {
  const res = await env.DB.prepare(
    "UPDATE clients SET revoked_at = ?1 WHERE id = ?2 AND tenant_id = ?3 AND revoked_at IS NULL",
  )
    .bind(nowSeconds(), clientId, tenantId)
    .run();
  clientCache.delete(clientId);
  return res.meta.changes > 0;
}

export async function createApiKey(env: Env, tenantId: string, name: string) {
  const id = newId("key");
  const apiKey = randomSecret("fk");
  await controlDb(env)
    .insert(apiKeys)
    .values({ id, tenant_id: tenantId, name, key_hash: await sha256Hex(apiKey), created_at: nowSeconds() });
  return { id, apiKey };
}

export async function listApiKeys(env: Env, tenantId: string) {
  return controlDb(env)
    .select({ id: apiKeys.id, name: apiKeys.name, createdAt: apiKeys.created_at, revokedAt: apiKeys.revoked_at })
    .from(apiKeys)
    .where(eq(apiKeys.tenant_id, tenantId))
    .all();
}

export async function revokeApiKey(env: Env, tenantId: string, keyId: string): Promise<boolean> {
  const row = await controlDb(env)
    .select({ keyHash: apiKeys.key_hash })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenant_id, tenantId), isNull(apiKeys.revoked_at)))
    .get();
  if (!row) return false;
  await controlDb(env).update(apiKeys).set({ revoked_at: nowSeconds() }).where(eq(apiKeys.id, keyId));
  apiKeyCache.delete(row.keyHash);
  return true;
}

// A hash no real secret produces: unknown clients are compared against it so that
// "unknown client" and "wrong secret" take the same path and the same time.
const DUMMY_HASH = "0".repeat(64);

/** Checks client credentials. Returns the client or null; never says which part was wrong. */
export async function authenticateClient(env: Env, clientId: string, secret: string) {
  const row = await controlDb(env)
    .select({
      id: clients.id,
      tenantId: clients.tenant_id,
      secretHash: clients.secret_hash,
      permissions: clients.permissions,
      revokedAt: clients.revoked_at,
    })
    .from(clients)
    .where(eq(clients.id, clientId))
    .get();
  const ok = await timingSafeEqualStr(await sha256Hex(secret), row?.secretHash ?? DUMMY_HASH);
  if (!row || !ok || row.revokedAt !== null) return null;
  return row;
}

interface ClientState {
  tenantId: string;
  shard: number;
  permissions: string[];
  active: boolean;
}
const clientCache = new TtlCache<ClientState>(CREDENTIAL_CACHE_MS);

/** Current state of a client (revoked or not, its tenant's shard), cached per isolate. */
export async function clientState(env: Env, clientId: string): Promise<ClientState | null> {
  const hit = clientCache.get(clientId);
  if (hit) return hit;
  const row = await env.DB.prepare(
    "SELECT c.tenant_id, c.permissions, c.revoked_at, t.shard FROM clients c JOIN tenants t ON t.id = c.tenant_id WHERE c.id = ?1",
  )
    .bind(clientId)
    .first<{ tenant_id: string; permissions: string; revoked_at: number | null; shard: number }>();
  if (!row) return null;
  const state = {
    tenantId: row.tenant_id,
    shard: row.shard,
    permissions: JSON.parse(row.permissions) as string[],
    active: row.revoked_at === null,
  };
  clientCache.set(clientId, state);
  return state;
}

const apiKeyCache = new TtlCache<Principal | null>(CREDENTIAL_CACHE_MS);

/** Resolves an API key to its principal (lookup by SHA-256 of the key, cached per isolate). */
export async function authenticateApiKey(env: Env, apiKey: string): Promise<Principal | null> {
  const hash = await sha256Hex(apiKey);
  const hit = apiKeyCache.get(hash);
  if (hit !== undefined) return hit;
  const row = await env.DB.prepare(
    "SELECT k.id, k.tenant_id, t.shard FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
  )
    .bind(hash)
    .first<{ id: string; tenant_id: string; shard: number }>();
  const principal: Principal | null = row
    ? { kind: "api_key", tenantId: row.tenant_id, shard: row.shard, subject: row.id, permissions: ["ingest"] }
    : null;
  apiKeyCache.set(hash, principal);
  return principal;
}
