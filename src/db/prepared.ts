import { fillPlaceholders, type Placeholder, sql } from "drizzle-orm";
import type { ControlDb } from "./client";

/** What selectOnce needs of a drizzle select: its SQL and the keys of its selection. */
interface Select<Row> {
  toSQL(): { sql: string; params: unknown[] };
  _: { selectedFields: Record<string, unknown> };
  all(): Promise<Row[]>;
}

/**
 * A select of a hot read path whose SQL drizzle builds once per isolate, with `sql.placeholder()`
 * for its inputs, and which every call runs on the caller's own D1 binding (a request's session).
 * Building a select's SQL is drizzle's work on every call (walking the selection, the joins and
 * the conditions into SQL text): measured in workerd it was the largest part of ferry's own CPU
 * on a one-query read (bench/README.md, "Latency"). drizzle's own `.prepare()` cannot be kept
 * across requests: it binds one database object, and each request has its own (its D1 sessions).
 *
 * Only for selections of plain columns (text, integer, SQL expressions): the rows come back as
 * D1's raw arrays and are keyed by the selection's keys, in order, with no column decoders.
 */
export function selectOnce<P extends string, Row>(names: readonly P[], build: (db: ControlDb, p: Record<P, Placeholder>) => Select<Row>) {
  let built: { sql: string; params: unknown[]; keys: string[] } | undefined;
  const all = async (db: ControlDb, values: Record<P, unknown>): Promise<Row[]> => {
    built ??= (() => {
      const q = build(db, Object.fromEntries(names.map((n) => [n, sql.placeholder(n)])) as unknown as Record<P, Placeholder>);
      return { ...q.toSQL(), keys: Object.keys(q._.selectedFields) };
    })();
    const { sql: text, params, keys } = built;
    const rows = await db.$client.prepare(text).bind(...fillPlaceholders(params, values)).raw();
    return rows.map((r) => Object.fromEntries(keys.map((k, i) => [k, r[i]])) as Row);
  };
  return { all, get: async (db: ControlDb, values: Record<P, unknown>): Promise<Row | undefined> => (await all(db, values))[0] };
}
