import { controlDb } from "../db/client";
import { countTenantsPerShard } from "../db/tenants";
import type { Env } from "../env";

/**
 * The shard router: every tenant-data query goes through here. A tenant lives on
 * one shard (tenants.shard in the control DB), bound as DATA_<n>. One D1 database
 * holds at most 10 GB, so big tenants can be given a database of their own.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export function shardCount(env: Pick<Env, "DATA_SHARDS">): number {
  const n = Number.parseInt(env.DATA_SHARDS, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DATA_SHARDS must be a positive integer, got ${env.DATA_SHARDS}`);
  return n;
}

export function shardDb(env: Env, shard: number): D1Database {
  const db = (env as unknown as Record<string, D1Database | undefined>)[`DATA_${shard}`];
  if (!db) throw new Error(`no D1 binding DATA_${shard} for shard ${shard}`);
  return db;
}

/** Handle on one tenant's data: the shard database plus the tenant id every query must filter on. */
export interface TenantData {
  tenantId: string;
  db: D1Database;
}

export function tenantData(env: Env, principal: { tenantId: string; shard: number }): TenantData {
  return { tenantId: principal.tenantId, db: shardDb(env, principal.shard) };
}

/** Picks the shard with the fewest tenants for a new tenant. */
export async function pickShard(env: Env): Promise<number> {
  const n = shardCount(env);
  const results = await countTenantsPerShard(controlDb(env));
  const counts = new Array<number>(n).fill(0);
  for (const r of results) if (r.shard < n) counts[r.shard] = r.c;
  let best = 0;
  for (let i = 1; i < n; i++) if ((counts[i] ?? 0) < (counts[best] ?? 0)) best = i;
  return best;
}
