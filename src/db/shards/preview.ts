/**
 * Preview reads on a tenant's data shard (POST /api/1/exports/preview): the first rows of a
 * compiled export query and how many rows it yields. The queries come from the export
 * compiler (src/exports/compiler.ts), which always scopes them to the tenant and binds every
 * value as a parameter (at most 100 per statement: https://developers.cloudflare.com/d1/platform/limits/).
 */

export interface PreviewQuery {
  sql: string;
  params: (string | number | null)[];
}

export type PreviewRow = Record<string, string | number | null>;

/** The rows of one compiled query (the compiler put the LIMIT in it). */
export async function readPreviewRows(db: D1Database, q: PreviewQuery): Promise<PreviewRow[]> {
  const { results } = await db
    .prepare(q.sql)
    .bind(...q.params)
    .all<PreviewRow>();
  return results;
}

/** How many rows a compiled query yields. */
export async function countPreviewRows(db: D1Database, q: PreviewQuery): Promise<number> {
  const r = await db
    .prepare(`SELECT count(*) AS n FROM (${q.sql})`)
    .bind(...q.params)
    .first<{ n: number }>();
  return r?.n ?? 0;
}
