import { and, eq, lte } from "drizzle-orm";
import type { ControlDb } from "../client";
import { shard_alerts } from "../schema";

/**
 * Size and contents of the data shards, for the operator (GET /api/1/admin/shards), tenant
 * placement and the capacity alert. Unscoped: these look at a whole shard, across tenants.
 *
 * One D1 database holds at most 10 GB (https://developers.cloudflare.com/d1/platform/limits/);
 * counted here in decimal gigabytes, the smaller reading, so an alert comes early, not late.
 */
export const D1_MAX_BYTES = 10 * 1000 ** 3;

/**
 * The database size in bytes as D1 reports it in every result's `meta.size_after`
 * (https://developers.cloudflare.com/d1/worker-api/return-object/); `PRAGMA page_count` is
 * refused by D1 (SQLITE_AUTH), so this is the way. A query that touches no table is enough.
 * Null when the binding does not report it.
 */
export async function shardSizeUnscoped(db: D1Database): Promise<number | null> {
  const r = await db.prepare("SELECT 1").run();
  const size = (r.meta as { size_after?: unknown }).size_after;
  return typeof size === "number" && Number.isFinite(size) ? size : null;
}

/** The data tables of a shard (D1's and SQLite's own tables left out). */
async function dataTables(db: D1Database): Promise<string[]> {
  const r = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> 'd1_migrations' ORDER BY name",
    )
    .all<{ name: string }>();
  return r.results.map((t) => t.name);
}

/**
 * Rows per table of one shard, in one batch. `count(*)` walks the smallest index of each
 * table, and D1 bills every row it reads (https://developers.cloudflare.com/d1/platform/pricing/):
 * on a full shard that is every row of the shard, so this is for an operator's look, never for
 * a request path or the cron.
 */
export async function shardRowCountsUnscoped(db: D1Database): Promise<Record<string, number>> {
  const tables = await dataTables(db);
  if (!tables.length) return {};
  // names come from sqlite_master, quoted as identifiers; they are never user input
  const results = await db.batch<{ n: number }>(tables.map((t) => db.prepare(`SELECT count(*) AS n FROM "${t.replaceAll('"', '""')}"`)));
  return Object.fromEntries(tables.map((t, i) => [t, results[i]?.results[0]?.n ?? 0]));
}

/**
 * Claims the capacity alert of `shard` for now, at most once per `everySeconds`: true when this
 * caller is to send it (one statement, so two cron ticks never both send).
 */
export async function claimShardAlertUnscoped(db: ControlDb, shard: number, now: number, everySeconds: number): Promise<boolean> {
  const row = await db
    .insert(shard_alerts)
    .values({ shard, alerted_at: now })
    .onConflictDoUpdate({
      target: shard_alerts.shard,
      set: { alerted_at: now },
      setWhere: lte(shard_alerts.alerted_at, now - everySeconds),
    })
    .returning()
    .get();
  return row !== undefined;
}

/** Gives a claim back (the alert could not be sent), so the next cron tick tries again. */
export async function releaseShardAlertUnscoped(db: ControlDb, shard: number, claimedAt: number): Promise<void> {
  await db.delete(shard_alerts).where(and(eq(shard_alerts.shard, shard), eq(shard_alerts.alerted_at, claimedAt)));
}
