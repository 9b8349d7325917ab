import { drizzle } from "drizzle-orm/d1";

export type ControlDb = ReturnType<typeof controlDb>;

/**
 * The control database through drizzle. Built without `{ schema }`: the repositories use the
 * query builder (select/insert/update/delete over the tables of ./schema) and never the
 * relational `db.query` API, which is what the schema option feeds. With it, every call walked
 * all 27 tables to build the relational config (0.2-0.8 ms in Node, on every request, since each
 * request builds its services); without it, construction is a few objects (about 20-50 µs).
 */
export function controlDb(env: { DB: D1Database }) {
  return drizzle(env.DB);
}

