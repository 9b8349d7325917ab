/**
 * Reads of export runs on a tenant's data shard: the compiled, parameterized chunk queries of
 * src/exports/compiler.ts (always scoped by tenant there), and their row count for progress.
 */

/** A compiled query: SQL with numbered parameters (at most 100 per statement: https://developers.cloudflare.com/d1/platform/limits/). */
export interface ShardQuery {
  sql: string;
  params: (string | number | null)[];
}

export type ShardRow = Record<string, string | number | null>;

/** Runs one chunk query; the rows in the query's order. */
export async function readExportChunk(db: D1Database, q: ShardQuery): Promise<ShardRow[]> {
  const { results } = await db
    .prepare(q.sql)
    .bind(...q.params)
    .all<ShardRow>();
  return results;
}

/** How many rows a query yields (for a run's progress). */
export async function countExportRows(db: D1Database, q: ShardQuery): Promise<number> {
  const r = await db
    .prepare(`SELECT count(*) AS n FROM (${q.sql})`)
    .bind(...q.params)
    .first<{ n: number }>();
  return r?.n ?? 0;
}
