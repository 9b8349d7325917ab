import { and, count, desc, eq, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import type { ControlDb } from "./client";
import {
  type ApiKey,
  type Client,
  type SigningKey,
  type Tenant,
  type TenantRateLimits,
  api_keys,
  audit_log,
  client_auth_failures,
  clients,
  signing_keys,
  tenants,
} from "./schema";

/**
 * Tenants and their credentials (tables tenants, clients, api_keys), the JWT signing keys
 * (signing_keys) and the audit log (audit_log). The services in src/tenants/ are the only
 * callers; they make ids, hashes and times, this file only reads and writes rows.
 */

// ---------------------------------------------------------------- tenants

export async function insertTenant(db: ControlDb, tenant: typeof tenants.$inferInsert): Promise<void> {
  await db.insert(tenants).values(tenant);
}

/** The one loader of a tenant row (its own id is the tenant scope). */
export function getTenant(db: ControlDb, tenantId: string): Promise<Tenant | undefined> {
  return db.select().from(tenants).where(eq(tenants.id, tenantId)).get();
}

/** Replaces a tenant's rate-limit tiers; the updated row, or undefined for an unknown tenant. */
export function setTenantRateLimits(db: ControlDb, tenantId: string, limits: TenantRateLimits): Promise<Tenant | undefined> {
  return db.update(tenants).set({ rate_limits: limits }).where(eq(tenants.id, tenantId)).returning().get();
}

/** Every tenant. Unscoped: only the admin API lists tenants, across all of them. */
export function listTenantsUnscoped(db: ControlDb): Promise<Tenant[]> {
  return db.select().from(tenants).all();
}

/** How many tenants each shard holds (shards without tenants are absent); new tenants go to the emptiest. */
export function countTenantsPerShard(db: ControlDb): Promise<{ shard: number; c: number }[]> {
  return db.select({ shard: tenants.shard, c: count() }).from(tenants).groupBy(tenants.shard).all();
}

// ---------------------------------------------------------------- clients

/** A client row with its tenant's data shard (to route queries) and rate-limit tiers. */
export type ClientWithShard = Client & { shard: number; rate_limits: TenantRateLimits | null };

export async function insertClient(db: ControlDb, client: Client): Promise<void> {
  await db.insert(clients).values(client);
}

/** A tenant's clients, revoked ones included (admin listing). */
export function listClients(db: ControlDb, tenantId: string): Promise<Client[]> {
  return db.select().from(clients).where(eq(clients.tenant_id, tenantId)).orderBy(clients.created_at, clients.id).all();
}

/**
 * A client by its id, revoked or not, with its tenant's shard. Unscoped: the token endpoint
 * and token verification start from a client id alone; the tenant is what this lookup
 * finds out (and, for a token, what it is checked against).
 */
export async function getClientUnscoped(db: ControlDb, clientId: string): Promise<ClientWithShard | undefined> {
  const row = await db
    .select({ client: clients, shard: tenants.shard, rate_limits: tenants.rate_limits })
    .from(clients)
    .innerJoin(tenants, eq(tenants.id, clients.tenant_id))
    .where(eq(clients.id, clientId))
    .get();
  return row ? { ...row.client, shard: row.shard, rate_limits: row.rate_limits } : undefined;
}

/** Revokes a client of that tenant; false when it is not the tenant's or already revoked. */
export async function revokeClient(db: ControlDb, tenantId: string, clientId: string, now: number): Promise<boolean> {
  const r = await db
    .update(clients)
    .set({ revoked_at: now })
    .where(and(eq(clients.id, clientId), eq(clients.tenant_id, tenantId), isNull(clients.revoked_at)))
    .run();
  return r.meta.changes > 0;
}

/**
 * Changes a client's name and/or token lifetime (null = the default); the updated row, or
 * undefined when the client is not the tenant's.
 */
export async function updateClient(
  db: ControlDb,
  tenantId: string,
  clientId: string,
  change: Partial<Pick<Client, "name" | "token_ttl_seconds">>,
): Promise<Client | undefined> {
  if (Object.keys(change).length === 0) {
    return db.select().from(clients).where(and(eq(clients.id, clientId), eq(clients.tenant_id, tenantId))).get();
  }
  return db
    .update(clients)
    .set(change)
    .where(and(eq(clients.id, clientId), eq(clients.tenant_id, tenantId)))
    .returning()
    .get();
}

// ---------------------------------------------------------------- API keys

export type ApiKeyWithShard = ApiKey & { shard: number; rate_limits: TenantRateLimits | null };

export async function insertApiKey(db: ControlDb, key: ApiKey): Promise<void> {
  await db.insert(api_keys).values(key);
}

/** A tenant's API keys, revoked ones included (admin listing). */
export function listApiKeys(db: ControlDb, tenantId: string): Promise<ApiKey[]> {
  return db.select().from(api_keys).where(eq(api_keys.tenant_id, tenantId)).orderBy(api_keys.created_at, api_keys.id).all();
}

/**
 * An API key by the SHA-256 of the key, revoked or not, with its tenant's shard. Unscoped:
 * an ingestion request carries only the key; its tenant is what this lookup finds out.
 */
export async function getApiKeyByHashUnscoped(db: ControlDb, keyHash: string): Promise<ApiKeyWithShard | undefined> {
  const row = await db
    .select({ key: api_keys, shard: tenants.shard, rate_limits: tenants.rate_limits })
    .from(api_keys)
    .innerJoin(tenants, eq(tenants.id, api_keys.tenant_id))
    .where(eq(api_keys.key_hash, keyHash))
    .get();
  return row ? { ...row.key, shard: row.shard, rate_limits: row.rate_limits } : undefined;
}

/**
 * Revokes an API key of that tenant in one statement; answers the key's hash (the credential
 * cache is keyed by it), or null when the key is not the tenant's or already revoked.
 */
export async function revokeApiKey(db: ControlDb, tenantId: string, keyId: string, now: number): Promise<string | null> {
  const row = await db
    .update(api_keys)
    .set({ revoked_at: now })
    .where(and(eq(api_keys.id, keyId), eq(api_keys.tenant_id, tenantId), isNull(api_keys.revoked_at)))
    .returning({ key_hash: api_keys.key_hash })
    .get();
  return row?.key_hash ?? null;
}

// ---------------------------------------------------------------- failed client authentications
// Keyed by the client id a caller sent, known or not (the token endpoint must not tell which),
// so these are unscoped: the tenant is unknown until the credentials check out.

export type ClientAuthFailures = typeof client_auth_failures.$inferSelect;

export function getClientAuthFailuresUnscoped(db: ControlDb, clientId: string): Promise<ClientAuthFailures | undefined> {
  return db.select().from(client_auth_failures).where(eq(client_auth_failures.client_id, clientId)).get();
}

/**
 * Counts one failed authentication of `clientId` in one statement (concurrent failures each
 * count once): a window older than `windowSeconds`, or a lock that has ended, starts a new
 * count; the count reaching `threshold` sets `locked_until = now + lockSeconds`. Answers
 * the row after the write; `failures === threshold` marks the failure that locked it.
 */
export function recordClientAuthFailureUnscoped(
  db: ControlDb,
  clientId: string,
  now: number,
  policy: { windowSeconds: number; threshold: number; lockSeconds: number },
): Promise<ClientAuthFailures> {
  const t = client_auth_failures;
  const restart = sql`(${t.first_failed_at} <= ${now - policy.windowSeconds} OR (${t.locked_until} IS NOT NULL AND ${t.locked_until} <= ${now}))`;
  const next = sql`CASE WHEN ${restart} THEN 1 ELSE ${t.failures} + 1 END`;
  return db
    .insert(t)
    .values({ client_id: clientId, failures: 1, first_failed_at: now, locked_until: policy.threshold <= 1 ? now + policy.lockSeconds : null })
    .onConflictDoUpdate({
      target: t.client_id,
      set: {
        failures: next,
        first_failed_at: sql`CASE WHEN ${restart} THEN ${now} ELSE ${t.first_failed_at} END`,
        locked_until: sql`CASE WHEN ${next} >= ${policy.threshold} THEN ${now + policy.lockSeconds} WHEN ${restart} THEN NULL ELSE ${t.locked_until} END`,
      },
    })
    .returning()
    .get();
}

/** A successful authentication forgets the failures. */
export async function clearClientAuthFailuresUnscoped(db: ControlDb, clientId: string): Promise<void> {
  await db.delete(client_auth_failures).where(eq(client_auth_failures.client_id, clientId));
}

/** Drops counts whose window and lock are both over (the cron keeps the table small). */
export async function pruneClientAuthFailuresUnscoped(db: ControlDb, now: number, windowSeconds: number): Promise<number> {
  const t = client_auth_failures;
  const r = await db
    .delete(t)
    .where(and(lte(t.first_failed_at, now - windowSeconds), or(isNull(t.locked_until), lt(t.locked_until, now))))
    .run();
  return r.meta.changes;
}

// ---------------------------------------------------------------- signing keys
// Signing keys belong to the service, not to a tenant: they sign every tenant's tokens, so
// these functions take no tenant id.

/** Signing keys, newest first; `live` leaves out retired keys (the set that verifies tokens). */
export function listSigningKeys(db: ControlDb, opts: { live?: boolean } = {}): Promise<SigningKey[]> {
  return db
    .select()
    .from(signing_keys)
    .where(opts.live ? ne(signing_keys.status, "retired") : undefined)
    .orderBy(desc(signing_keys.created_at), signing_keys.kid)
    .all();
}

export function getSigningKey(db: ControlDb, kid: string): Promise<SigningKey | undefined> {
  return db.select().from(signing_keys).where(eq(signing_keys.kid, kid)).get();
}

/** Makes `key` the active key; the active one becomes previous in the same batch (one transaction). */
export async function insertActiveSigningKey(db: ControlDb, key: SigningKey): Promise<void> {
  await db.batch([
    db.update(signing_keys).set({ status: "previous" }).where(eq(signing_keys.status, "active")),
    db.insert(signing_keys).values({ ...key, status: "active" }),
  ]);
}

/** Retires a previous key; false when it is not (any more) a previous key. */
export async function retireSigningKey(db: ControlDb, kid: string, now: number): Promise<boolean> {
  const r = await db
    .update(signing_keys)
    .set({ status: "retired", retired_at: now })
    .where(and(eq(signing_keys.kid, kid), eq(signing_keys.status, "previous")))
    .run();
  return r.meta.changes > 0;
}

// ---------------------------------------------------------------- audit log

export type AuditEntry = typeof audit_log.$inferInsert;

/** Appends one entry to the audit log (who did what to which tenant, when). */
export async function appendAudit(db: ControlDb, entry: AuditEntry): Promise<void> {
  await db.insert(audit_log).values(entry);
}
