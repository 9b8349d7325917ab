import { type CacheClock, TtlCache } from "../../lib/ttl-cache";
import type { ControlDb } from "../client";
import { D1_MAX_BYTES, shardSizeUnscoped } from "./stats";
import { countTenantsPerShard, getTenant } from "../tenants";

/**
 * The data shards: THE module for tenant-data reads and writes. A tenant lives on one shard
 * (tenants.shard in the control DB), bound as DATA_<n>; every query on a shard goes through a
 * TenantData handle, which carries the tenant id the query must filter on. One D1 database
 * holds at most 10 GB, so big tenants can be given a database of their own.
 * https://developers.cloudflare.com/d1/platform/limits/
 *
 * The router is here; the SQL is in the files beside it; index.ts re-exports them all.
 */

export interface Shards {
  /** the shard database of a tenant placed on `shard` */
  db(shard: number): D1Database;
  count(): number;
}

/** The bindings the router reads: DATA_SHARDS and DATA_0 .. DATA_{n-1} (wrangler.toml). */
export type ShardBindings = { DATA_SHARDS: string };

export function shardCount(env: ShardBindings): number {
  const n = Number.parseInt(env.DATA_SHARDS, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DATA_SHARDS must be a positive integer, got ${env.DATA_SHARDS}`);
  return n;
}

export function shardDb(env: ShardBindings, shard: number): D1Database {
  const db = (env as unknown as Record<string, D1Database | undefined>)[`DATA_${shard}`];
  if (!db) throw new Error(`no D1 binding DATA_${shard} for shard ${shard}`);
  return db;
}

/** The router createServices gives every entry point (`s.shards`). */
export function shardRouter(env: ShardBindings): Shards {
  return { count: () => shardCount(env), db: (shard) => shardDb(env, shard) };
}

/** Handle on one tenant's data: the shard database plus the tenant id every query must filter on. */
export interface TenantData {
  tenantId: string;
  db: D1Database;
}

const isShards = (x: ShardBindings | Shards): x is Shards => typeof (x as Shards).db === "function";

/** The data of a tenant whose shard is known (an authenticated principal carries it). */
export function tenantData(from: ShardBindings | Shards, tenant: { tenantId: string; shard: number }): TenantData {
  return { tenantId: tenant.tenantId, db: isShards(from) ? from.db(tenant.shard) : shardDb(from, tenant.shard) };
}

/** A tenant by id (its shard is looked up in the control DB) or already placed. */
export type TenantRef = string | { tenantId: string; shard: number };

/**
 * How long a placement read once is kept per isolate. A tenant can move (src/tenants/moves.ts):
 * a stale placement is harmless because the old shard's fence refuses every write of a moved
 * tenant (src/db/shards/moves.ts), and the old copy is kept, for reads, PLACEMENT_CACHE_MS and
 * more after the switch.
 */
export const PLACEMENT_CACHE_MS = 60_000;
const placements = new TtlCache<number>(PLACEMENT_CACHE_MS);

/** Drops this isolate's cached placement of a tenant (its shard refused a write: it moved). */
export function forgetPlacement(tenantId: string): void {
  placements.delete(tenantId);
}

/** The data of a tenant, looking its shard up when only the id is known (queue jobs, cron). */
export async function shardForTenant(s: { db: ControlDb; shards: Shards; clock: CacheClock }, tenant: TenantRef): Promise<TenantData> {
  if (typeof tenant !== "string") return tenantData(s.shards, tenant);
  let shard = placements.get(tenant, s.clock);
  if (shard === undefined) {
    const found = await getTenant(s.db, tenant);
    if (!found) throw new Error(`unknown tenant ${tenant}`);
    shard = found.shard;
    placements.set(tenant, shard, s.clock);
  }
  return tenantData(s.shards, { tenantId: tenant, shard });
}

/**
 * Sizes are compared in steps of 1% of a database's 10 GB (100 MB): shards within the same
 * step count as equally full, and the tenant count decides between them.
 */
export const ROOM_STEP_BYTES = D1_MAX_BYTES / 100;

/**
 * Picks the shard with the most room for a new tenant: the smallest database (in
 * ROOM_STEP_BYTES steps; every shard has the same 10 GB limit), then the fewest tenants, then
 * the lowest number. A shard whose size D1 does not report counts as empty, so placement falls
 * back to the tenant count (docs/architecture.md, "Shards").
 */
export async function pickShard(s: { db: ControlDb; shards: Shards }): Promise<number> {
  const n = s.shards.count();
  const counts = new Array<number>(n).fill(0);
  for (const r of await countTenantsPerShard(s.db)) if (r.shard < n) counts[r.shard] = r.c;
  const sizes = await Promise.all(Array.from({ length: n }, (_, i) => shardSizeUnscoped(s.shards.db(i))));
  const step = (i: number) => Math.floor((sizes[i] ?? 0) / ROOM_STEP_BYTES);
  let best = 0;
  for (let i = 1; i < n; i++) {
    const d = step(i) - step(best) || (counts[i] ?? 0) - (counts[best] ?? 0);
    if (d < 0) best = i;
  }
  return best;
}
