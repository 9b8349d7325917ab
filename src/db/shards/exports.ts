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

/**
 * Runs one chunk query; the rows in the query's order. Read with `raw()` (D1 sends rows as arrays
 * of cells either way) and made into objects here with one plain loop: `all()` builds each row
 * with `Object.fromEntries` over `[column, cell]` pairs, which made reading a chunk about a
 * quarter slower and its rows slower for the formatter to read (bench/README.md, Export).
 */
export async function readExportChunk(db: D1Database, q: ShardQuery): Promise<ShardRow[]> {
  const [columns, ...cells] = await db
    .prepare(q.sql)
    .bind(...q.params)
    .raw<(string | number | null)[]>({ columnNames: true });
  if (!columns) return [];
  const rows: ShardRow[] = new Array(cells.length);
  for (let r = 0; r < cells.length; r++) {
    const cell = cells[r] as (string | number | null)[];
    const row: ShardRow = {};
    for (let i = 0; i < columns.length; i++) row[columns[i] as string] = cell[i] ?? null;
    rows[r] = row;
  }
  return rows;
}

/** Runs a compiled count query (`ExportCompiler.count()`: one row `{ n }`), for progress and the preview. */
export async function countExportRows(db: D1Database, q: ShardQuery): Promise<number> {
  const r = await db
    .prepare(q.sql)
    .bind(...q.params)
    .first<{ n: number }>();
  return r?.n ?? 0;
}
