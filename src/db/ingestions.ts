import { and, desc, eq, gt, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { utf8Length } from "../lib/utf8";
import type { ControlDb } from "./client";
import { type Ingestion, ingestion_errors, ingestions } from "./schema";

/**
 * CSV ingestions and their per-row errors (tables ingestions, ingestion_errors). The
 * ingestion's chain (src/ingest/csv/job.ts) moves the checkpoint, `next_offset`, with
 * compare-and-set writes: of two runs of the same link only one records it.
 */

/** A per-row (or per-line) error as stored and answered. */
export interface LineError {
  line: number;
  /** the column the error is about, "" for the whole record */
  field: string;
  message: string;
}

const OPEN = ["pending", "processing"] as const;

/** The statement that creates an ingestion; batch it with the statement that starts its chain. */
export function insertIngestion(db: ControlDb, row: typeof ingestions.$inferInsert): BatchItem<"sqlite"> {
  return db.insert(ingestions).values(row);
}

/** The one loader of an ingestion row, scoped by tenant: another tenant's ingestion is not found. */
export function getIngestion(db: ControlDb, tenantId: string, id: string): Promise<Ingestion | undefined> {
  return db
    .select()
    .from(ingestions)
    .where(and(eq(ingestions.id, id), eq(ingestions.tenant_id, tenantId)))
    .get();
}

/** A tenant's most recent ingestions, newest first (the back office's ingestion page). */
export function listRecentIngestions(db: ControlDb, tenantId: string, limit: number): Promise<Ingestion[]> {
  return db
    .select()
    .from(ingestions)
    .where(eq(ingestions.tenant_id, tenantId))
    .orderBy(desc(ingestions.created_at), desc(ingestions.id))
    .limit(limit)
    .all();
}

/** Errors of one of the tenant's ingestions after `afterLine`, by line then field. */
export function listIngestionErrors(db: ControlDb, tenantId: string, id: string, afterLine: number, limit: number): Promise<LineError[]> {
  return db
    .select({ line: ingestion_errors.line, field: ingestion_errors.field, message: ingestion_errors.message })
    .from(ingestion_errors)
    .innerJoin(ingestions, eq(ingestions.id, ingestion_errors.ingestion_id))
    .where(and(eq(ingestion_errors.ingestion_id, id), eq(ingestions.tenant_id, tenantId), gt(ingestion_errors.line, afterLine)))
    .orderBy(ingestion_errors.line, ingestion_errors.field)
    .limit(limit)
    .all();
}

/**
 * Errors as JSON arrays `[[line, field, message], ...]` of at most 90 KB each: one statement
 * per array reads it with json_each, under D1's 100 KB per statement whatever the messages'
 * length (a message quotes the refused value, up to 4096 characters).
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export function errorJsonChunks(errors: readonly LineError[], maxBytes = 90_000): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (const e of errors) {
    const s = JSON.stringify([e.line, e.field, e.message]);
    const len = utf8Length(s) + 1;
    if (parts.length && bytes + len > maxBytes) {
      out.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(s);
    bytes += len;
  }
  if (parts.length) out.push(`[${parts.join(",")}]`);
  return out;
}

export interface ChunkRecord {
  /** the checkpoint the chunk was read from; the write applies only while it is still there */
  from: number;
  to: number;
  nextLine: number;
  accepted: number;
  /** records rejected (a record may have several errors) */
  rejected: number;
  /** the errors to keep (the caller caps them) */
  errors: readonly LineError[];
  final: boolean;
  now: number;
}

/**
 * Records a processed chunk: its row errors and the new checkpoint, in one batch. The update
 * only applies while the checkpoint is still at `from` and the ingestion open, so of two runs
 * of the same link only one advances it. Returns whether this call advanced it.
 */
export async function recordIngestionChunk(db: ControlDb, tenantId: string, id: string, c: ChunkRecord): Promise<boolean> {
  const errors = errorJsonChunks(c.errors).map((json) =>
    db
      .insert(ingestion_errors)
      .select(sql`SELECT ${id}, value->>0, value->>1, value->>2 FROM json_each(${json}) WHERE true`)
      .onConflictDoNothing(),
  );
  const advance = db
    .update(ingestions)
    .set({
      next_offset: c.to,
      next_line: c.nextLine,
      chunks: sql`${ingestions.chunks} + 1`,
      rows_accepted: sql`${ingestions.rows_accepted} + ${c.accepted}`,
      rows_rejected: sql`${ingestions.rows_rejected} + ${c.rejected}`,
      status: c.final ? "completed" : "processing",
      updated_at: c.now,
      finished_at: c.final ? c.now : null,
    })
    .where(and(eq(ingestions.id, id), eq(ingestions.tenant_id, tenantId), eq(ingestions.next_offset, c.from), inArray(ingestions.status, OPEN)));
  const statements: BatchItem<"sqlite">[] = [...errors, advance];
  const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  return changes(results[results.length - 1]) > 0;
}

/** Stops an open ingestion at checkpoint `offset` with a reason a person can act on. Returns whether it stopped it. */
export async function failIngestion(db: ControlDb, tenantId: string, id: string, offset: number, message: string, now: number): Promise<boolean> {
  const r = await db
    .update(ingestions)
    .set({ status: "failed", error: message, updated_at: now, finished_at: now })
    .where(and(eq(ingestions.id, id), eq(ingestions.tenant_id, tenantId), eq(ingestions.next_offset, offset), inArray(ingestions.status, OPEN)))
    .run();
  return r.meta.changes > 0;
}

/** Rows changed by a write run in a batch (D1 answers a D1Result per statement). */
const changes = (r: unknown) => (r as { meta?: { changes?: number } } | undefined)?.meta?.changes ?? 0;
