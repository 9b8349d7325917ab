import { and, count, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, type Placeholder, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { selectOnce } from "./prepared";
import { type CheckpointRow, type RunRow, export_run_checkpoints, export_run_parts, export_runs, exports } from "./schema";

/**
 * Export runs, their checkpoints and parts (tables export_runs, export_run_checkpoints,
 * export_run_parts). The run lifecycle (src/runs/) is the only writer. Functions that take a
 * run id alone act on a run the caller has already loaded scoped by its tenant.
 */

export type NewRunRow = typeof export_runs.$inferInsert;
const LIVE = ["pending", "processing"] as const;

/**
 * The one loader of a run row, scoped by tenant, by id or by schedule slot (one run per
 * (export, slot)): another tenant's run is not found.
 */
export function getRun(db: ControlDb, tenantId: string, key: string | { exportId: string; scheduledFor: number }): Promise<RunRow | undefined> {
  return db
    .select()
    .from(export_runs)
    .where(
      and(
        eq(export_runs.tenant_id, tenantId),
        typeof key === "string" ? eq(export_runs.id, key) : and(eq(export_runs.export_id, key.exportId), eq(export_runs.scheduled_for, key.scheduledFor)),
      ),
    )
    .get();
}

/**
 * The definition's `automated` flag (ExportBody; absent in definitions saved before it, which
 * counts as true), read from the stored JSON. The one rule for what the automated exports API
 * shows: the list, the results and the fetch all use it.
 */
const automatedDefinition = sql`coalesce(json_extract(${exports.definition}, '$.automated'), 1) = 1`;

/** What a download link needs of a run, nothing else: its file, status and expiry (no definition snapshot). */
export type RunFileRow = Pick<RunRow, "id" | "tenant_id" | "export_id" | "status" | "file_key" | "expires_at" | "expired_at">;

/**
 * A run's file columns by id, scoped by tenant, and `automated`: 0 when its live definition keeps
 * it out of the automated exports API. The automated fetch's one query.
 */
export function getRunFile(db: ControlDb, tenantId: string, runId: string): Promise<(RunFileRow & { automated: number }) | undefined> {
  return runFile.get(db, { tenantId, runId });
}

const runFile = selectOnce(["tenantId", "runId"], (db, p) => runFileQuery(db, p.tenantId, p.runId));

/**
 * getRunFile's statement, not yet run. bench/latency/floor-worker.ts sends the same SQL straight
 * to the D1 binding (the runtime's floor for this route).
 */
export function runFileQuery(db: ControlDb, tenantId: string | Placeholder, runId: string | Placeholder) {
  return db
    .select({
      id: export_runs.id,
      tenant_id: export_runs.tenant_id,
      export_id: export_runs.export_id,
      status: export_runs.status,
      file_key: export_runs.file_key,
      expires_at: export_runs.expires_at,
      expired_at: export_runs.expired_at,
      // a run of a deleted definition has no row here: coalesce makes it 1, as before
      automated: sql<number>`${automatedDefinition}`,
    })
    .from(export_runs)
    .leftJoin(exports, and(eq(exports.tenant_id, export_runs.tenant_id), eq(exports.id, export_runs.export_id), isNull(exports.deleted_at)))
    .where(and(eq(export_runs.tenant_id, tenantId), eq(export_runs.id, runId)));
}

/** The id of a tenant's live definition named `name` when the automated exports API shows it. */
export async function automatedExportId(db: ControlDb, tenantId: string, name: string): Promise<string | undefined> {
  const row = await db
    .select({ id: exports.id })
    .from(exports)
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.name, name), isNull(exports.deleted_at), automatedDefinition))
    .get();
  return row?.id;
}

/**
 * A run by id alone, for signed download links: the link's signature names the tenant and is
 * checked against the row before anything is served.
 */
export function getRunUnscoped(db: ControlDb, runId: string): Promise<RunRow | undefined> {
  return db.select().from(export_runs).where(eq(export_runs.id, runId)).get();
}

/**
 * The statement that creates a pending run. A second run for the same (export, slot) is not
 * inserted (the partial unique index export_runs_export_scheduled), so asking twice for a slot
 * makes one run.
 */
export function insertRun(db: ControlDb, row: NewRunRow): BatchItem<"sqlite"> {
  // No conflict target: the id is new, so the slot index is the only one that can conflict
  // (and drizzle would place a partial index's WHERE after DO NOTHING, which SQLite refuses).
  return db.insert(export_runs).values(row).onConflictDoNothing();
}

/** Runs of one export, newest first. */
export async function listRuns(
  db: ControlDb,
  tenantId: string,
  exportId: string,
  page: { limit: number; offset: number },
): Promise<{ runs: RunRow[]; total: number }> {
  const where = and(eq(export_runs.tenant_id, tenantId), eq(export_runs.export_id, exportId));
  const [runs, n] = await db.batch([
    db.select().from(export_runs).where(where).orderBy(desc(export_runs.created_at), desc(export_runs.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(export_runs).where(where),
  ]);
  return { runs, total: n[0]?.n ?? 0 };
}

/**
 * Incremental exports: the upper bound of the newest finished run of an export before `slot`
 * (or a manual run), where the next run starts.
 */
export async function previousWatermark(db: ControlDb, tenantId: string, exportId: string, slot: number): Promise<number | undefined> {
  const row = await db
    .select({ until: export_runs.watermark_until })
    .from(export_runs)
    .where(
      and(
        eq(export_runs.tenant_id, tenantId),
        eq(export_runs.export_id, exportId),
        eq(export_runs.status, "finished"),
        isNotNull(export_runs.watermark_until),
        or(isNull(export_runs.scheduled_for), lt(export_runs.scheduled_for, slot)),
      ),
    )
    .orderBy(desc(export_runs.watermark_until))
    .limit(1)
    .get();
  return row?.until ?? undefined;
}

/** pending -> processing (kept while processing): when it started and what its file is called. */
export async function markProcessing(
  db: ControlDb,
  runId: string,
  f: Pick<RunRow, "file_name" | "file_key" | "content_type"> & { now: number },
): Promise<void> {
  await db
    .update(export_runs)
    .set({
      status: "processing",
      started_at: sql`COALESCE(${export_runs.started_at}, ${f.now})`,
      file_name: f.file_name,
      file_key: f.file_key,
      content_type: f.content_type,
    })
    .where(and(eq(export_runs.id, runId), inArray(export_runs.status, LIVE)))
    .run();
}

export async function setTotalRows(db: ControlDb, runId: string, total: number): Promise<void> {
  await db.update(export_runs).set({ total_rows: total }).where(eq(export_runs.id, runId)).run();
}

/** Shown by the runs API while a link is retried, so a person sees why a run is slow; cleared when it ends. */
export async function setRetryError(db: ControlDb, runId: string, error: string): Promise<void> {
  await db
    .update(export_runs)
    .set({ error: error.slice(0, 1000) })
    .where(and(eq(export_runs.id, runId), inArray(export_runs.status, LIVE)))
    .run();
}

export function latestCheckpoint(db: ControlDb, runId: string): Promise<CheckpointRow | undefined> {
  return db.select().from(export_run_checkpoints).where(eq(export_run_checkpoints.run_id, runId)).orderBy(desc(export_run_checkpoints.step)).limit(1).get();
}

/**
 * Records one step in one batch: the parts it uploaded, its checkpoint, and the run's
 * counters. False when the checkpoint existed already (another worker recorded this step
 * first; its parts are the same bytes, so rewriting them is harmless).
 */
export async function recordStep(
  db: ControlDb,
  cp: typeof export_run_checkpoints.$inferInsert,
  parts: { n: number; etag: string; size: number }[],
  progress: number,
): Promise<boolean> {
  const partRows = parts.map((p) =>
    db
      .insert(export_run_parts)
      .values({ run_id: cp.run_id, part_number: p.n, etag: p.etag, size: p.size, step: cp.step })
      .onConflictDoUpdate({ target: [export_run_parts.run_id, export_run_parts.part_number], set: { etag: p.etag, size: p.size, step: cp.step } }),
  );
  const checkpoint = db.insert(export_run_checkpoints).values(cp).onConflictDoNothing();
  const counters = db
    .update(export_runs)
    .set({ rows: cp.rows, bytes: cp.bytes, progress })
    .where(and(eq(export_runs.id, cp.run_id), eq(export_runs.status, "processing")));
  const results = await db.batch([checkpoint, ...partRows, counters] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  return ((results[0] as D1Result).meta.changes ?? 0) > 0;
}

/** Stores the run's multipart upload id once; false when another worker stored one first. */
export async function claimUploadId(db: ControlDb, runId: string, uploadId: string): Promise<boolean> {
  const r = await db
    .update(export_runs)
    .set({ upload_id: uploadId })
    .where(and(eq(export_runs.id, runId), isNull(export_runs.upload_id)))
    .run();
  return r.meta.changes > 0;
}

/** The parts of a run's file up to `lastPart`, in order (their etags complete the upload). */
export function partsOf(db: ControlDb, runId: string, lastPart: number): Promise<{ part_number: number; etag: string }[]> {
  return db
    .select({ part_number: export_run_parts.part_number, etag: export_run_parts.etag })
    .from(export_run_parts)
    .where(and(eq(export_run_parts.run_id, runId), lte(export_run_parts.part_number, lastPart)))
    .orderBy(export_run_parts.part_number)
    .all();
}

/** After encryption the run's file is the .pgp object, with its own size and checksum. */
export async function setRunFile(db: ControlDb, runId: string, f: Pick<RunRow, "file_key" | "file_name" | "content_type" | "bytes" | "sha256">): Promise<void> {
  await db.update(export_runs).set(f).where(eq(export_runs.id, runId)).run();
}

/** processing -> finished, for the batch that also starts the run's delivery and notification. */
export function finishRunStatement(
  db: ControlDb,
  runId: string,
  f: Pick<RunRow, "rows" | "bytes" | "sha256" | "finished_at" | "expires_at">,
): BatchItem<"sqlite"> {
  return db
    .update(export_runs)
    .set({ ...f, status: "finished", progress: 1, error: null })
    .where(and(eq(export_runs.id, runId), inArray(export_runs.status, LIVE)));
}

/** pending|processing -> failed with a reason, for the batch that also starts the notification. */
export function failRunStatement(db: ControlDb, runId: string, reason: string, now: number): BatchItem<"sqlite"> {
  return db
    .update(export_runs)
    .set({ status: "failed", error: reason.slice(0, 1000), finished_at: now })
    .where(and(eq(export_runs.id, runId), inArray(export_runs.status, LIVE)));
}

/**
 * Finished runs past their expiry whose files are still kept, oldest first. Unscoped: the
 * retention cron serves every tenant.
 */
export function expiredRunsUnscoped(
  db: ControlDb,
  now: number,
  limit: number,
): Promise<Pick<RunRow, "id" | "tenant_id" | "export_id" | "file_key">[]> {
  return db
    .select({ id: export_runs.id, tenant_id: export_runs.tenant_id, export_id: export_runs.export_id, file_key: export_runs.file_key })
    .from(export_runs)
    .where(and(isNotNull(export_runs.expires_at), lte(export_runs.expires_at, now), isNull(export_runs.expired_at)))
    .orderBy(export_runs.expires_at)
    .limit(limit)
    .all();
}

/** One statement per run in one batch: an IN list of 100 ids would pass D1's 100 bound parameters (https://developers.cloudflare.com/d1/platform/limits/). */
export async function markExpired(db: ControlDb, runIds: string[], now: number): Promise<void> {
  const [first, ...rest] = runIds.map((id) => db.update(export_runs).set({ expired_at: now }).where(eq(export_runs.id, id)));
  if (first) await db.batch([first, ...rest]);
}

// ------------------------------------------------------------ results (the automated exports API)

/** A finished run whose file is still kept (not past expires_at, not deleted by retention). */
const isResult = (tenantId: string, now: number) =>
  and(
    eq(export_runs.tenant_id, tenantId),
    eq(export_runs.status, "finished"),
    isNotNull(export_runs.file_key),
    isNull(export_runs.expired_at),
    or(isNull(export_runs.expires_at), gt(export_runs.expires_at, now)),
  );

export type ResultRow = Pick<RunRow, "id" | "expires_at" | "created_at">;

/** Every active export of a tenant by name, with its newest result (or null), in one statement. */
export async function activeExportsWithLastResult(
  db: ControlDb,
  tenantId: string,
  now: number,
): Promise<{ id: string; name: string; last: ResultRow | null }[]> {
  const rows = await activeExports.all(db, { tenantId, now });
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    last: r.run_id ? { id: r.run_id, expires_at: r.expires_at, created_at: r.created_at as number } : null,
  }));
}

/**
 * activeExportsWithLastResult's statement, not yet run (bench/latency/floor-worker.ts sends the
 * same SQL straight to the D1 binding).
 */
export function activeExportsQuery(db: ControlDb, tenantId: string | Placeholder, now: number | Placeholder) {
  const newest = sql`(SELECT r.id FROM export_runs r WHERE r.tenant_id = ${tenantId} AND r.status = 'finished' AND r.file_key IS NOT NULL
    AND r.expired_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > ${now}) AND r.export_id = ${exports.id}
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1)`;
  return db
    .select({ id: exports.id, name: exports.name, run_id: export_runs.id, expires_at: export_runs.expires_at, created_at: export_runs.created_at })
    .from(exports)
    .leftJoin(export_runs, eq(export_runs.id, newest))
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.status, "active"), isNull(exports.deleted_at), automatedDefinition))
    .orderBy(exports.name);
}

const activeExports = selectOnce(["tenantId", "now"], (db, p) => activeExportsQuery(db, p.tenantId, p.now));

/** Results of one export, newest first, and how many there are. */
export async function resultsOf(
  db: ControlDb,
  tenantId: string,
  exportId: string,
  now: number,
  page: { limit: number; offset: number },
): Promise<{ results: ResultRow[]; total: number }> {
  const where = and(isResult(tenantId, now), eq(export_runs.export_id, exportId));
  const [results, n] = await db.batch([
    db
      .select({ id: export_runs.id, expires_at: export_runs.expires_at, created_at: export_runs.created_at })
      .from(export_runs)
      .where(where)
      .orderBy(desc(export_runs.created_at), desc(export_runs.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(export_runs).where(where),
  ]);
  return { results, total: n[0]?.n ?? 0 };
}
