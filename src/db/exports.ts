import { and, count, eq, inArray, isNotNull, isNull, lte, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type ExportRow, type RunRow, export_runs, exports } from "./schema";

/**
 * Export definitions (table exports). Every function but the scheduler's due query is scoped
 * by tenant: another tenant's definition is simply not found. The definitions service
 * (src/definitions/) is the only writer.
 */

export type ExportStatus = ExportRow["status"];
export type NewExportRow = typeof exports.$inferInsert;

/**
 * The one loader of a definition row, scoped by tenant, by id or by name; a deleted definition
 * is not found.
 */
export function getExportRow(db: ControlDb, tenantId: string, key: string | { name: string }): Promise<ExportRow | undefined> {
  return db
    .select()
    .from(exports)
    .where(and(eq(exports.tenant_id, tenantId), typeof key === "string" ? eq(exports.id, key) : eq(exports.name, key.name), isNull(exports.deleted_at)))
    .get();
}

/** The newest run of a definition, as lists show it. */
export type LastRun = Pick<RunRow, "id" | "status" | "rows" | "bytes" | "created_at" | "finished_at">;
export type ExportWithLastRun = ExportRow & { last_run: LastRun | null };

/** The newest run of one definition (any status), or undefined before its first run. */
export function lastRunOf(db: ControlDb, tenantId: string, exportId: string): Promise<LastRun | undefined> {
  return db
    .select({
      id: export_runs.id,
      status: export_runs.status,
      rows: export_runs.rows,
      bytes: export_runs.bytes,
      created_at: export_runs.created_at,
      finished_at: export_runs.finished_at,
    })
    .from(export_runs)
    .where(and(eq(export_runs.tenant_id, tenantId), eq(export_runs.export_id, exportId)))
    .orderBy(sql`${export_runs.created_at} DESC, ${export_runs.id} DESC`)
    .limit(1)
    .get();
}

export const CATEGORIES = ["all", "in_progress", "scheduled", "draft", "closed", "favourites"] as const;
export type Category = (typeof CATEGORIES)[number];

export interface ListQuery {
  q?: string;
  category: Category;
  sort: "name" | "created_at";
  order: "asc" | "desc";
  page: number;
  perPage: number;
}

/** The id of the newest run of the outer row's definition (correlated; the list joins it). */
const newestRunId = sql`(SELECT x.id FROM export_runs x WHERE x.tenant_id = ${exports.tenant_id} AND x.export_id = ${exports.id} ORDER BY x.created_at DESC, x.id DESC LIMIT 1)`;

function categoryFilter(category: Category): SQL | undefined {
  switch (category) {
    case "all":
      return undefined;
    case "in_progress":
      return sql`EXISTS (SELECT 1 FROM export_runs p WHERE p.tenant_id = ${exports.tenant_id} AND p.export_id = ${exports.id} AND p.status IN ('pending', 'processing'))`;
    case "scheduled":
      return and(eq(exports.status, "active"), sql`json_extract(${exports.definition}, '$.schedule.type') NOT IN ('now', 'manual')`);
    case "draft":
      return inArray(exports.status, ["draft", "disabled"]);
    case "closed":
      return inArray(export_runs.status, ["finished", "failed"]);
    case "favourites":
      return eq(exports.favourite, 1);
  }
}

/** One page of a tenant's definitions with their newest run; search by name, sort, filter by category. */
export async function listExportRows(db: ControlDb, tenantId: string, q: ListQuery): Promise<{ items: ExportWithLastRun[]; total: number }> {
  const where = and(
    eq(exports.tenant_id, tenantId),
    isNull(exports.deleted_at),
    q.q ? sql`${exports.name} LIKE ${`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'` : undefined,
    categoryFilter(q.category),
  );
  const dir = q.order === "asc" ? sql`ASC` : sql`DESC`;
  const order =
    q.sort === "name"
      ? sql`${exports.name} COLLATE NOCASE ${dir}, ${exports.name} ${dir}, ${exports.id} ${dir}`
      : sql`${exports.created_at} ${dir}, ${exports.id} ${dir}`;
  const joined = (sel: Parameters<ControlDb["select"]>[0]) =>
    db.select(sel).from(exports).leftJoin(export_runs, eq(export_runs.id, newestRunId));
  // Not one db.batch: D1 batch results come back keyed by column name, and the joined tables
  // share names (id, status, created_at), which drizzle then maps wrongly.
  const [countRows, pageRows] = await Promise.all([
    db.select({ n: count() }).from(exports).leftJoin(export_runs, eq(export_runs.id, newestRunId)).where(where),
    joined({
      e: exports,
      run_id: export_runs.id,
      run_status: export_runs.status,
      run_rows: export_runs.rows,
      run_bytes: export_runs.bytes,
      run_created_at: export_runs.created_at,
      run_finished_at: export_runs.finished_at,
    })
      .where(where)
      .orderBy(order)
      .limit(q.perPage)
      .offset((q.page - 1) * q.perPage),
  ]);
  type Joined = {
    e: ExportRow;
    run_id: string | null;
    run_status: RunRow["status"] | null;
    run_rows: number | null;
    run_bytes: number | null;
    run_created_at: number | null;
    run_finished_at: number | null;
  };
  const items = (pageRows as Joined[]).map((r) => ({
    ...r.e,
    last_run: r.run_id
      ? {
          id: r.run_id,
          status: r.run_status ?? "pending",
          rows: r.run_rows ?? 0,
          bytes: r.run_bytes ?? 0,
          created_at: r.run_created_at ?? 0,
          finished_at: r.run_finished_at,
        }
      : null,
  }));
  return { items, total: countRows[0]?.n ?? 0 };
}

/**
 * The statement that stores a new definition, its `next_run_at` computed by the caller (the
 * schedule math is pure: src/exports/schedule.ts), so the definition and its next run are
 * written together.
 */
export function insertExport(db: ControlDb, row: NewExportRow): BatchItem<"sqlite"> {
  return db.insert(exports).values(row);
}

/**
 * Replaces a definition while it is editable (draft or disabled), with its next_run_at, in one
 * statement. False when it is gone or no longer editable.
 */
export async function updateEditableExport(
  db: ControlDb,
  tenantId: string,
  id: string,
  set: Pick<ExportRow, "name" | "model" | "status" | "definition" | "updated_at" | "next_run_at">,
): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ ...set, schedule_error: null })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), isNull(exports.deleted_at), inArray(exports.status, ["draft", "disabled"])))
    .run();
  return r.meta.changes > 0;
}

/** Enables or disables a definition with its next_run_at, in one statement. */
export async function setExportStatus(
  db: ControlDb,
  tenantId: string,
  id: string,
  set: Pick<ExportRow, "status" | "definition" | "updated_at" | "next_run_at">,
): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ ...set, schedule_error: null })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), isNull(exports.deleted_at)))
    .run();
  return r.meta.changes > 0;
}

export async function softDeleteExport(db: ControlDb, tenantId: string, id: string, now: number): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ deleted_at: now, next_run_at: null })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), isNull(exports.deleted_at)))
    .run();
  return r.meta.changes > 0;
}

export async function setExportFavourite(db: ControlDb, tenantId: string, id: string, favourite: boolean): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ favourite: favourite ? 1 : 0 })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), isNull(exports.deleted_at)))
    .run();
  return r.meta.changes > 0;
}

export type DueExport = Pick<ExportRow, "id" | "tenant_id" | "name" | "definition"> & { next_run_at: number };

/**
 * Active definitions whose next run is due, oldest slot first. Unscoped: the cron serves
 * every tenant.
 */
export async function dueExportsUnscoped(db: ControlDb, now: number, limit: number): Promise<DueExport[]> {
  return (await db
    .select({ id: exports.id, tenant_id: exports.tenant_id, name: exports.name, definition: exports.definition, next_run_at: exports.next_run_at })
    .from(exports)
    .where(and(isNotNull(exports.next_run_at), lte(exports.next_run_at, now), eq(exports.status, "active"), isNull(exports.deleted_at)))
    .orderBy(exports.next_run_at)
    .limit(limit)
    .all()) as DueExport[];
}

/**
 * Moves next_run_at from the slot just handled to the next one, compare-and-set on the old
 * value: two ticks handling the same slot move it once, and never skip a slot.
 */
export async function moveNextRun(db: ControlDb, tenantId: string, id: string, from: number, to: number | null): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ next_run_at: to })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), eq(exports.next_run_at, from)))
    .run();
  return r.meta.changes > 0;
}

/**
 * Stops scheduling a definition the scheduler cannot run, with the reason: next_run_at is
 * cleared (compare-and-set on the slot that failed) and schedule_error says why.
 */
export async function markScheduleFailed(db: ControlDb, tenantId: string, id: string, slot: number, error: string): Promise<boolean> {
  const r = await db
    .update(exports)
    .set({ next_run_at: null, schedule_error: error.slice(0, 1000) })
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), eq(exports.next_run_at, slot)))
    .run();
  return r.meta.changes > 0;
}
