import { MODELS } from "../../models";
import { storedColumns } from "../../models/ddl";
import { FENCE_MESSAGE } from "./fence";
import { chunkRows } from "./records";

/**
 * Moving a tenant's rows between shards (src/tenants/moves.ts drives it; docs/architecture.md,
 * "Shards"): the list of tenant tables, the fence the shard itself enforces, the change log,
 * and the chunked copy, resync, checksum and delete statements.
 *
 * **The fence.** `tenant_fences` on a shard holds one row per tenant being moved off it.
 * Triggers on every tenant table (migrations/data/0006_tenant_moves.sql, generated from
 * `shardTables()` by `npm run gen:data-ddl -- fences`) read it on every write of that tenant:
 * - `track`: writes go on, and each UPDATE or DELETE (and each INSERT into a table without
 *   row ids) records the row's group in `tenant_move_log`, so the mover copies that group again;
 * - `freeze` and `moved`: every INSERT, UPDATE and DELETE of the tenant's rows fails with
 *   `ferry:tenant_fenced`, whichever isolate sent it and whatever shard it had cached. D1 runs
 *   a batch as one transaction, one at a time, so a write either committed before the fence
 *   (and the mover sees it) or is refused;
 * - `sweep`: set and reset inside the mover's own delete batches, so only they pass.
 * Other tenants pay one primary-key probe of a (nearly always empty) table per row written.
 */

/** A tenant table on the shards, described for the mover. */
export interface ShardTable {
  name: string;
  /** every column but row_id, tenant_id first */
  columns: readonly string[];
  /** true: INTEGER PRIMARY KEY row_id, copied in row_id order; false: WITHOUT ROWID, copied in `pk` order */
  rowid: boolean;
  /** the ordering key of a WITHOUT ROWID table (after tenant_id) */
  pk: readonly string[];
  /** the column the change log names (NULL logged as ''): copying every row of one value again repairs any change in it */
  group: string;
  /** rows the mover copies and verifies (idempotency claims still in flight stay behind) */
  where?: string;
}

/**
 * The tenant tables that are not catalog models (migrations/data/0002_idempotency.sql,
 * 0003_personas.sql). test/foundation/tenant-moves.test.ts checks that shardTables() names
 * every table of a migrated shard, so a new table cannot be forgotten by the mover.
 */
const WORKING_TABLES: readonly ShardTable[] = [
  {
    name: "idempotency_keys",
    columns: ["tenant_id", "key", "fingerprint", "status", "response", "created_at", "expires_at"],
    rowid: false,
    pk: ["key"],
    group: "key",
    // an in-flight claim is not copied: its request either stores its answer before the
    // freeze (and the completed key is copied) or fails against the fence and is retried
    where: "status IS NOT NULL",
  },
  {
    name: "segment_vectors",
    columns: ["tenant_id", "segment_id", "run_id", "user_id", "vector"],
    rowid: false,
    pk: ["segment_id", "run_id", "user_id"],
    group: "user_id",
  },
];

/** Every tenant table on a shard: the catalog's models (src/models) and the working tables. */
export function shardTables(): readonly ShardTable[] {
  const models = MODELS.map((m): ShardTable => {
    // An append-only model with neither (webhook_logs) is grouped by its time field: copying every
    // row of one time again repairs a change there just as well.
    const group = m.userField ?? m.key?.[0] ?? m.timeField;
    if (!group) throw new Error(`model ${m.name} has neither a user field, a key nor a time field: the mover cannot group its changes`);
    // storedColumns: the catalog's fields and what it stores beside them (members' custom fields)
    return { name: m.name, columns: storedColumns(m).filter((c) => c !== "row_id"), rowid: true, pk: ["row_id"], group };
  });
  return [...models, ...WORKING_TABLES];
}

export { FENCE_MESSAGE, isFenced } from "./fence";

/** The fence tables and the triggers of every tenant table (the data migration 0006). */
export function fenceDdl(): string {
  const out = [
    `CREATE TABLE tenant_fences (
  tenant_id TEXT PRIMARY KEY,
  mode TEXT NOT NULL CHECK (mode IN ('track', 'freeze', 'moved', 'sweep')),
  move_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;`,
    `CREATE TABLE tenant_move_log (
  tenant_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  grp TEXT NOT NULL,
  token INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, tbl, grp)
) WITHOUT ROWID;`,
    `CREATE TABLE tenant_move_marks (
  tenant_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  cursor TEXT NOT NULL,
  PRIMARY KEY (tenant_id, tbl)
) WITHOUT ROWID;`,
    `-- A write that may touch no row (deleting a user's data) inserts here first: refused like the
-- others while the tenant is fenced, and otherwise never stored (raise(IGNORE) skips the row).
CREATE TABLE tenant_fence_probe (tenant_id TEXT NOT NULL);`,
    `CREATE TRIGGER tenant_fence_probe_insert BEFORE INSERT ON tenant_fence_probe
BEGIN
  SELECT raise(ABORT, '${FENCE_MESSAGE}') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
  SELECT raise(IGNORE);
END;`,
  ];
  const refuse = (row: string) =>
    `  SELECT raise(ABORT, '${FENCE_MESSAGE}') FROM tenant_fences WHERE tenant_id = ${row}.tenant_id AND mode IN ('freeze', 'moved');`;
  // delete, then insert with a new token: a conflict clause (OR REPLACE) inside a trigger gives
  // way to the writing statement's own (https://www.sqlite.org/lang_createtrigger.html)
  const log = (t: ShardTable, row: string) =>
    `  DELETE FROM tenant_move_log WHERE tenant_id = ${row}.tenant_id AND tbl = '${t.name}' AND grp = coalesce(${row}.${t.group}, '');\n  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)\n    SELECT ${row}.tenant_id, '${t.name}', coalesce(${row}.${t.group}, ''), random() FROM tenant_fences WHERE tenant_id = ${row}.tenant_id AND mode = 'track';`;
  for (const t of shardTables()) {
    const when = (row: string) => `WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = ${row}.tenant_id)`;
    out.push(`CREATE TRIGGER ${t.name}_fence_insert AFTER INSERT ON ${t.name} ${when("NEW")}\nBEGIN\n${refuse("NEW")}${t.rowid ? "" : `\n${log(t, "NEW")}`}\nEND;`);
    out.push(`CREATE TRIGGER ${t.name}_fence_update BEFORE UPDATE ON ${t.name} ${when("OLD")}\nBEGIN\n${refuse("OLD")}\n${log(t, "OLD")}\nEND;`);
    out.push(`CREATE TRIGGER ${t.name}_fence_delete BEFORE DELETE ON ${t.name} ${when("OLD")}\nBEGIN\n${refuse("OLD")}\n${log(t, "OLD")}\nEND;`);
  }
  return out.join("\n\n");
}

// ---------------------------------------------------------------- the fence

export type FenceMode = "track" | "freeze" | "moved";

/** Sets the tenant's fence on `db` (null: removes it). */
export async function setFence(db: D1Database, tenantId: string, moveId: string, mode: FenceMode | null, now: number): Promise<void> {
  if (mode === null) {
    await db.batch([
      db.prepare("DELETE FROM tenant_fences WHERE tenant_id = ?1").bind(tenantId),
      db.prepare("DELETE FROM tenant_move_log WHERE tenant_id = ?1").bind(tenantId),
      db.prepare("DELETE FROM tenant_move_marks WHERE tenant_id = ?1").bind(tenantId),
    ]);
    return;
  }
  await db
    .prepare(
      `INSERT INTO tenant_fences (tenant_id, mode, move_id, updated_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (tenant_id) DO UPDATE SET mode = excluded.mode, move_id = excluded.move_id, updated_at = excluded.updated_at`,
    )
    .bind(tenantId, mode, moveId, now)
    .run();
}

export async function getFence(db: D1Database, tenantId: string): Promise<{ mode: string; move_id: string } | null> {
  return db.prepare("SELECT mode, move_id FROM tenant_fences WHERE tenant_id = ?1").bind(tenantId).first();
}

/**
 * The statement that fails while the tenant is frozen or moved off this shard: put it first in
 * a batch whose writes might match no row (a deletion), which the row triggers cannot refuse.
 */
export function fenceGuard(db: D1Database, tenantId: string): D1PreparedStatement {
  return db.prepare("INSERT INTO tenant_fence_probe (tenant_id) VALUES (?1)").bind(tenantId);
}

// ---------------------------------------------------------------- copying

/** A position in a table: the last row_id, or the last pk values, copied; null before the first row. */
export type MoveCursor = number | readonly unknown[] | null;

const after = (t: ShardTable, first: number) =>
  t.rowid ? `row_id > ?${first}` : `(${t.pk.join(", ")}) > (${t.pk.map((_, i) => `?${first + i}`).join(", ")})`;
const upTo = (t: ShardTable, first: number) =>
  t.rowid ? `row_id <= ?${first}` : `(${t.pk.join(", ")}) <= (${t.pk.map((_, i) => `?${first + i}`).join(", ")})`;
const cursorParams = (t: ShardTable, c: MoveCursor): unknown[] => (t.rowid ? [c ?? 0] : ((c as unknown[] | null) ?? t.pk.map(() => "")));
const order = (t: ShardTable) => (t.rowid ? "row_id" : t.pk.join(", "));
const filter = (t: ShardTable) => (t.where ? ` AND ${t.where}` : "");

/**
 * The next `limit` rows of the tenant in `t` after `cursor` (and, given `upto`, not past it),
 * each as its columns' values (tenant_id first), with the cursor of the last one.
 */
export async function readRowsAfter(
  db: D1Database,
  t: ShardTable,
  tenantId: string,
  cursor: MoveCursor,
  limit: number,
  upto: MoveCursor = null,
): Promise<{ rows: unknown[][]; last: MoveCursor }> {
  const keys = t.rowid ? ["row_id"] : [...t.pk];
  const where = ["tenant_id = ?1"];
  const params: unknown[] = [tenantId];
  if (cursor !== null) {
    where.push(after(t, params.length + 1));
    params.push(...cursorParams(t, cursor));
  }
  if (upto !== null) {
    where.push(upTo(t, params.length + 1));
    params.push(...cursorParams(t, upto));
  }
  params.push(limit);
  const raw = await db
    .prepare(`SELECT ${[...keys, ...t.columns].join(", ")} FROM ${t.name} WHERE ${where.join(" AND ")}${filter(t)} ORDER BY ${order(t)} LIMIT ?${params.length}`)
    .bind(...params)
    .raw();
  const rows = raw.map((r) => r.slice(keys.length));
  const tail = raw[raw.length - 1];
  const last: MoveCursor = tail ? (t.rowid ? (tail[0] as number) : tail.slice(0, keys.length)) : cursor;
  return { rows, last };
}

/** The cursor of the tenant's last row in `t` now (null: none): where one copy pass stops. */
export async function lastCursor(db: D1Database, t: ShardTable, tenantId: string): Promise<MoveCursor> {
  const keys = t.rowid ? ["row_id"] : [...t.pk];
  const raw = await db
    .prepare(`SELECT ${keys.join(", ")} FROM ${t.name} WHERE tenant_id = ?1${filter(t)} ORDER BY ${keys.map((k) => `${k} DESC`).join(", ")} LIMIT 1`)
    .bind(tenantId)
    .raw();
  const row = raw[0];
  return row ? (t.rowid ? (row[0] as number) : row) : null;
}

const insertSql = (t: ShardTable, guard: string) =>
  `INSERT INTO ${t.name} (${t.columns.join(", ")}) SELECT ${t.columns.map((_, i) => `value->>${i}`).join(", ")} FROM json_each(?1) WHERE ${guard}`;
/** The copy's mark of `t` on the destination is still what the caller read: compare-and-set. */
const markIs = (t: ShardTable) => `(SELECT cursor FROM tenant_move_marks WHERE tenant_id = ?2 AND tbl = '${t.name}') IS ?3`;
const markJson = (c: MoveCursor) => (c === null ? null : JSON.stringify(c));

/** The destination's mark of `t`: how far the copy got, written in the same batch as the rows. */
export async function readMark(db: D1Database, t: ShardTable, tenantId: string): Promise<MoveCursor> {
  const row = await db.prepare("SELECT cursor FROM tenant_move_marks WHERE tenant_id = ?1 AND tbl = ?2").bind(tenantId, t.name).first<{ cursor: string }>();
  return row ? (JSON.parse(row.cursor) as MoveCursor) : null;
}

/**
 * Writes `rows` (read after the mark `from`) to the destination and moves its mark to `to`, in
 * one transaction, only if the mark is still `from`: a link that runs twice copies once.
 * Answers false when another link had moved the mark.
 */
export async function appendRows(db: D1Database, t: ShardTable, tenantId: string, rows: readonly unknown[][], from: MoveCursor, to: MoveCursor): Promise<boolean> {
  const ins = db.prepare(insertSql(t, markIs(t)));
  const statements = chunkRows(rows).map((json) => ins.bind(json, tenantId, markJson(from)));
  const mark = db
    .prepare(
      `INSERT INTO tenant_move_marks (tenant_id, tbl, cursor) SELECT ?1, ?2, ?4 WHERE (SELECT cursor FROM tenant_move_marks WHERE tenant_id = ?1 AND tbl = ?2) IS ?3
       ON CONFLICT (tenant_id, tbl) DO UPDATE SET cursor = excluded.cursor`,
    )
    .bind(tenantId, t.name, markJson(from), markJson(to));
  const results = await db.batch([...statements, mark]);
  return (results[results.length - 1]?.meta.changes ?? 0) > 0;
}

// ---------------------------------------------------------------- the change log

export interface LogEntry {
  tbl: string;
  grp: string;
  /** random() is a 64-bit integer, past a JS number's precision: carried as text */
  token: string;
}

/** The next `limit` groups changed on the source since the mover last looked. */
export async function readLog(db: D1Database, tenantId: string, limit: number): Promise<LogEntry[]> {
  const r = await db.prepare("SELECT tbl, grp, CAST(token AS TEXT) AS token FROM tenant_move_log WHERE tenant_id = ?1 ORDER BY tbl, grp LIMIT ?2").bind(tenantId, limit).all<LogEntry>();
  return r.results;
}

/** Forgets entries the mover has copied; an entry changed again since it was read (new token) stays. */
export async function dropLog(db: D1Database, tenantId: string, entries: readonly LogEntry[]): Promise<void> {
  if (!entries.length) return;
  await db
    .prepare(
      `DELETE FROM tenant_move_log WHERE tenant_id = ?1 AND (tbl, grp, CAST(token AS TEXT)) IN
         (SELECT value->>0, value->>1, value->>2 FROM json_each(?2))`,
    )
    .bind(tenantId, JSON.stringify(entries.map((e) => [e.tbl, e.grp, e.token])))
    .run();
}

/** The source's rows of `groups` in `t` up to the copy's mark (rows past it are the copy's). */
export async function readGroups(db: D1Database, t: ShardTable, tenantId: string, groups: readonly string[], mark: MoveCursor): Promise<unknown[][]> {
  if (mark === null) return [];
  const params = cursorParams(t, mark);
  const r = await db
    .prepare(
      `SELECT ${t.columns.join(", ")} FROM ${t.name} WHERE tenant_id = ?1 AND coalesce(${t.group}, '') IN (SELECT value FROM json_each(?2)) AND ${upTo(t, 3)}${filter(t)} ORDER BY ${order(t)}`,
    )
    .bind(tenantId, JSON.stringify(groups), ...params)
    .raw();
  return r;
}

/**
 * Makes the destination's rows of `groups` in `t` equal to `rows` (the source's, read by
 * readGroups): deletes them and writes the source's again, in one transaction, only while the
 * mark is still `mark`.
 */
export async function replaceGroups(db: D1Database, t: ShardTable, tenantId: string, groups: readonly string[], rows: readonly unknown[][], mark: MoveCursor): Promise<void> {
  const del = db
    .prepare(`DELETE FROM ${t.name} WHERE tenant_id = ?2 AND coalesce(${t.group}, '') IN (SELECT value FROM json_each(?1)) AND ${markIs(t)}`)
    .bind(JSON.stringify(groups), tenantId, markJson(mark));
  const ins = db.prepare(insertSql(t, markIs(t)));
  await db.batch([del, ...chunkRows(rows).map((json) => ins.bind(json, tenantId, markJson(mark)))]);
}

// ---------------------------------------------------------------- verifying and deleting

/** How many of the tenant's rows `t` holds. */
export async function countTenantRows(db: D1Database, t: ShardTable, tenantId: string): Promise<number> {
  const r = await db.prepare(`SELECT count(*) AS n FROM ${t.name} WHERE tenant_id = ?1${filter(t)}`).bind(tenantId).first<{ n: number }>();
  return r?.n ?? 0;
}

/**
 * Deletes up to `limit` of the tenant's rows of `t` (every row, in-flight claims included):
 * the old copy after a move, or the leftovers of a failed one. On a fenced shard the batch
 * opens the fence for itself (`sweep`) and closes it again, inside the one transaction: no
 * other write passes meanwhile. Answers the rows deleted.
 */
export async function deleteTenantRows(db: D1Database, t: ShardTable, tenantId: string, limit: number): Promise<number> {
  const key = t.rowid ? "row_id" : `(${["tenant_id", ...t.pk].join(", ")})`;
  const results = await db.batch([
    db.prepare("UPDATE tenant_fences SET mode = 'sweep' WHERE tenant_id = ?1 AND mode = 'moved'").bind(tenantId),
    db.prepare(`DELETE FROM ${t.name} WHERE ${key} IN (SELECT ${key.replace(/[()]/g, "")} FROM ${t.name} WHERE tenant_id = ?1 LIMIT ?2)`).bind(tenantId, limit),
    db.prepare("UPDATE tenant_fences SET mode = 'moved' WHERE tenant_id = ?1 AND mode = 'sweep'").bind(tenantId),
  ]);
  return results[1]?.meta.changes ?? 0;
}
