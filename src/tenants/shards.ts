import {
  D1_MAX_BYTES,
  claimShardAlertUnscoped,
  releaseShardAlertUnscoped,
  shardRowCountsUnscoped,
  shardSizeUnscoped,
} from "../db/shards";
import { countTenantsPerShard } from "../db/tenants";
import type { Env } from "../env";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { sendWebhook } from "../services/webhooks";

/**
 * The data shards as an operator sees them (GET /api/1/admin/shards) and the capacity alert
 * the cron raises (docs/architecture.md, "Shards").
 */

/** Share of a shard's 10 GB past which the operator is alerted (var SHARD_ALERT_SHARE, default 0.8). */
export function alertShare(env: Pick<Env, "SHARD_ALERT_SHARE">): number {
  const v = Number(env.SHARD_ALERT_SHARE);
  return Number.isFinite(v) && v > 0 && v <= 1 ? v : 0.8;
}

/** At most one alert per shard per day. */
export const ALERT_EVERY_SECONDS = 86_400;

export interface ShardView {
  shard: number;
  binding: string;
  tenants: number;
  /** null when D1 does not report it */
  size_bytes: number | null;
  /** size_bytes / D1_MAX_BYTES */
  share: number | null;
  /** past SHARD_ALERT_SHARE */
  alert: boolean;
  rows: number;
  tables: Record<string, number>;
}

async function tenantsPerShard(s: Services): Promise<number[]> {
  const counts = new Array<number>(s.shards.count()).fill(0);
  for (const r of await countTenantsPerShard(s.db)) if (r.shard < counts.length) counts[r.shard] = r.c;
  return counts;
}

/** Size, tenants and rows per table of every shard (counting rows reads every row: an operator's look). */
export async function shardOverview(s: Services): Promise<{ limit_bytes: number; alert_share: number; shards: ShardView[] }> {
  const share = alertShare(s.env);
  const counts = await tenantsPerShard(s);
  const shards = await Promise.all(
    counts.map(async (tenants, shard): Promise<ShardView> => {
      const db = s.shards.db(shard);
      const [size, tables] = await Promise.all([shardSizeUnscoped(db), shardRowCountsUnscoped(db)]);
      return {
        shard,
        binding: `DATA_${shard}`,
        tenants,
        size_bytes: size,
        share: size === null ? null : size / D1_MAX_BYTES,
        alert: size !== null && size >= share * D1_MAX_BYTES,
        rows: Object.values(tables).reduce((a, b) => a + b, 0),
        tables,
      };
    }),
  );
  return { limit_bytes: D1_MAX_BYTES, alert_share: share, shards };
}

/**
 * Cron: a shard past SHARD_ALERT_SHARE of 10 GB posts a signed `shard.capacity` webhook to
 * OPERATOR_WEBHOOK_URL (signed with OPERATOR_WEBHOOK_SECRET like every ferry webhook,
 * src/services/webhooks.ts), at most once per shard per day; a failed post is retried on the
 * next tick. Each alert is also a JSON line on the console, so it is seen without a webhook.
 * Reads only the sizes (one `SELECT 1` per shard), never the row counts.
 */
export async function alertFullShards(s: Services): Promise<number[]> {
  const share = alertShare(s.env);
  const counts = await tenantsPerShard(s);
  const alerted: number[] = [];
  for (let shard = 0; shard < counts.length; shard++) {
    const size = await shardSizeUnscoped(s.shards.db(shard));
    if (size === null || size < share * D1_MAX_BYTES) continue;
    const now = s.clock.seconds();
    if (!(await claimShardAlertUnscoped(s.db, shard, now, ALERT_EVERY_SECONDS))) continue;
    const data = { shard, binding: `DATA_${shard}`, size_bytes: size, limit_bytes: D1_MAX_BYTES, share: size / D1_MAX_BYTES, alert_share: share, tenants: counts[shard] ?? 0 };
    console.warn(JSON.stringify({ event: "shard.capacity", ...data }));
    const url = s.env.OPERATOR_WEBHOOK_URL;
    const secret = s.env.OPERATOR_WEBHOOK_SECRET;
    // an unsigned post could be forged by anybody who learns the URL: no secret, no post
    if (url && !secret) console.error(JSON.stringify({ event: "shard.capacity.webhook_unsigned", shard, error: "OPERATOR_WEBHOOK_SECRET is not set" }));
    if (url && secret) {
      try {
        await sendWebhook(url, secret, {
          type: "shard.capacity",
          id: newId("evt"),
          created_at: new Date(s.clock.now()).toISOString(),
          tenant_id: null,
          data,
        });
      } catch (err) {
        await releaseShardAlertUnscoped(s.db, shard, now);
        console.error(JSON.stringify({ event: "shard.capacity.webhook_failed", shard, error: String(err) }));
        continue;
      }
    }
    alerted.push(shard);
  }
  return alerted;
}
