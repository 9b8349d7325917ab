import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type ScoringKeyRow, type SegmentRow, type SegmentRunRow, scoring_keys, segment_runs, segments } from "./schema";

/**
 * Segments, their recomputes and the scoring keys (tables segments, segment_runs,
 * scoring_keys). src/segments/ is the only caller. Every loader is scoped by tenant except the
 * cron's, whose names end in `Unscoped`.
 */

// ---------------------------------------------------------------- scoring keys

export function getScoringKey(db: ControlDb, tenantId: string): Promise<ScoringKeyRow | undefined> {
  return db.select().from(scoring_keys).where(eq(scoring_keys.tenant_id, tenantId)).get();
}

export async function putScoringKey(db: ControlDb, tenantId: string, key: string, now: number): Promise<void> {
  await db
    .insert(scoring_keys)
    .values({ tenant_id: tenantId, key, updated_at: now })
    .onConflictDoUpdate({ target: scoring_keys.tenant_id, set: { key, updated_at: now } })
    .run();
}

export async function deleteScoringKey(db: ControlDb, tenantId: string): Promise<boolean> {
  const r = await db.delete(scoring_keys).where(eq(scoring_keys.tenant_id, tenantId)).run();
  return r.meta.changes > 0;
}

// ---------------------------------------------------------------- segments

/** Creates a segment unless it exists (the tenant's default, on first use). */
export async function ensureSegment(db: ControlDb, row: Pick<SegmentRow, "tenant_id" | "id" | "name" | "personas"> & { now: number }): Promise<void> {
  await db
    .insert(segments)
    .values({ tenant_id: row.tenant_id, id: row.id, name: row.name, personas: row.personas, filters: "[]", defined_at: row.now, created_at: row.now, updated_at: row.now })
    .onConflictDoNothing()
    .run();
}

export function listSegments(db: ControlDb, tenantId: string): Promise<SegmentRow[]> {
  return db
    .select()
    .from(segments)
    .where(and(eq(segments.tenant_id, tenantId), isNull(segments.deleted_at)))
    .orderBy(asc(segments.created_at), asc(segments.id))
    .all();
}

/** The one loader of a segment row; a deleted segment is not found. */
export function getSegment(db: ControlDb, tenantId: string, id: string): Promise<SegmentRow | undefined> {
  return db
    .select()
    .from(segments)
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, id), isNull(segments.deleted_at)))
    .get();
}

/** A segment row, deleted or not (the recompute job finds out it was deleted). */
export function getSegmentAnyState(db: ControlDb, tenantId: string, id: string): Promise<SegmentRow | undefined> {
  return db
    .select()
    .from(segments)
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, id)))
    .get();
}

/** Inserts a segment; throws on a name taken by another live segment of the tenant (unique index). */
export async function insertSegment(db: ControlDb, row: Pick<SegmentRow, "tenant_id" | "id" | "name" | "filters" | "personas"> & { now: number }): Promise<void> {
  await db
    .insert(segments)
    .values({ tenant_id: row.tenant_id, id: row.id, name: row.name, filters: row.filters, personas: row.personas, defined_at: row.now, created_at: row.now, updated_at: row.now })
    .run();
}

/** Edits a live segment; `defined` (filters or personas changed) makes its result stale. */
export async function updateSegment(
  db: ControlDb,
  tenantId: string,
  id: string,
  patch: Partial<Pick<SegmentRow, "name" | "filters" | "personas">>,
  now: number,
  defined: boolean,
): Promise<boolean> {
  const r = await db
    .update(segments)
    .set({ ...patch, updated_at: now, ...(defined ? { defined_at: now } : {}) })
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, id), isNull(segments.deleted_at)))
    .run();
  return r.meta.changes > 0;
}

/** Asks for a recompute after the running one: the segment's result becomes stale (defined_at). */
export async function requestRecompute(db: ControlDb, tenantId: string, id: string, now: number): Promise<void> {
  await db
    .update(segments)
    .set({ defined_at: now })
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, id), isNull(segments.deleted_at)))
    .run();
}

export async function markSegmentDeleted(db: ControlDb, tenantId: string, id: string, now: number): Promise<boolean> {
  const r = await db
    .update(segments)
    .set({ deleted_at: now, updated_at: now })
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, id), isNull(segments.deleted_at)))
    .run();
  return r.meta.changes > 0;
}

/** Statement: the segment's latest recompute is `runId`. */
export function pointSegmentAtRun(db: ControlDb, tenantId: string, segmentId: string, runId: string, now: number): BatchItem<"sqlite"> {
  return db
    .update(segments)
    .set({ run_id: runId, updated_at: now })
    .where(and(eq(segments.tenant_id, tenantId), eq(segments.id, segmentId)));
}

/**
 * Statement for the batch that moves a recompute past its write pass: publishes its result on
 * the segment, only if the run's checkpoint moved to `link` in the same batch (the statement
 * before it) and the segment still points at the run.
 */
export function publishSegmentResult(
  db: ControlDb,
  tenantId: string,
  segmentId: string,
  runId: string,
  link: number,
  r: { computed_at: number; generation: string; users: number; result: string; now: number },
): BatchItem<"sqlite"> {
  return db
    .update(segments)
    .set({ computed_at: r.computed_at, generation: r.generation, users: r.users, result: r.result, updated_at: r.now })
    .where(
      and(
        eq(segments.tenant_id, tenantId),
        eq(segments.id, segmentId),
        eq(segments.run_id, runId),
        sql`EXISTS (SELECT 1 FROM ${segment_runs} WHERE ${segment_runs.id} = ${runId} AND ${segment_runs.link} = ${link})`,
      ),
    );
}

/**
 * Cron: live segments due for a recompute (never computed, computed more than `maxAge` seconds
 * ago, or before their definition changed) that have no recompute running and none started
 * since `now - maxAge` and since their definition changed (a recompute that failed or found no
 * users is not retried every minute).
 */
export function staleSegmentsUnscoped(db: ControlDb, now: number, maxAge: number, limit: number): Promise<SegmentRow[]> {
  const before = now - maxAge;
  return db
    .select()
    .from(segments)
    .where(
      and(
        isNull(segments.deleted_at),
        sql`(${segments.computed_at} IS NULL OR ${segments.computed_at} < ${before} OR ${segments.computed_at} < ${segments.defined_at})`,
        sql`NOT EXISTS (SELECT 1 FROM ${segment_runs} AS r WHERE r.tenant_id = ${segments.tenant_id} AND r.segment_id = ${segments.id}
              AND (r.status = 'running' OR (r.created_at >= ${before} AND r.created_at >= ${segments.defined_at})))`,
      ),
    )
    .orderBy(sql`${segments.computed_at} IS NOT NULL`, asc(segments.computed_at))
    .limit(limit)
    .all();
}

// ---------------------------------------------------------------- recomputes

/** The one loader of a recompute row, scoped by tenant. */
export function getSegmentRun(db: ControlDb, tenantId: string, runId: string): Promise<SegmentRunRow | undefined> {
  return db
    .select()
    .from(segment_runs)
    .where(and(eq(segment_runs.tenant_id, tenantId), eq(segment_runs.id, runId)))
    .get();
}

export function getRunningSegmentRun(db: ControlDb, tenantId: string, segmentId: string): Promise<SegmentRunRow | undefined> {
  return db
    .select()
    .from(segment_runs)
    .where(and(eq(segment_runs.tenant_id, tenantId), eq(segment_runs.segment_id, segmentId), eq(segment_runs.status, "running")))
    .orderBy(desc(segment_runs.created_at))
    .get();
}

/** Statement: a new running recompute. Fails (unique index) while another of the segment runs. */
export function insertSegmentRun(
  db: ControlDb,
  row: Pick<SegmentRunRow, "id" | "tenant_id" | "segment_id" | "trigger" | "definition" | "options" | "phase"> & { now: number },
): BatchItem<"sqlite"> {
  const { now, ...rest } = row;
  return db.insert(segment_runs).values({ ...rest, status: "running", link: 0, created_at: now, updated_at: now });
}

export type RunCheckpoint = Partial<Pick<SegmentRunRow, "phase" | "cursor" | "state" | "state_key" | "users" | "progress" | "status" | "error" | "finished_at">>;

/** Statement: the checkpoint of link `from`, recorded as `to`, only if the run is still at `from` and running. */
export function checkpointSegmentRun(
  db: ControlDb,
  tenantId: string,
  runId: string,
  from: number,
  to: number,
  patch: RunCheckpoint,
  now: number,
): BatchItem<"sqlite"> {
  return db
    .update(segment_runs)
    .set({ ...patch, link: to, updated_at: now })
    .where(and(eq(segment_runs.tenant_id, tenantId), eq(segment_runs.id, runId), eq(segment_runs.link, from), eq(segment_runs.status, "running")));
}

/** Ends a running recompute as failed with a reason. False when it was not running. */
export async function failSegmentRun(db: ControlDb, tenantId: string, runId: string, error: string, now: number): Promise<boolean> {
  const r = await db
    .update(segment_runs)
    .set({ status: "failed", error, finished_at: now, updated_at: now })
    .where(and(eq(segment_runs.tenant_id, tenantId), eq(segment_runs.id, runId), eq(segment_runs.status, "running")))
    .run();
  return r.meta.changes > 0;
}
