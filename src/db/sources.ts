import { and, asc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { utf8Length } from "../lib/utf8";
import { chainId } from "./chains";
import type { ControlDb } from "./client";
import { type LineError, errorJsonChunks } from "./ingestions";
import { INGESTION_STATUSES, type SourceFile, type SourceRow, source_file_errors, source_files, sources } from "./schema";

/**
 * Bucket sources, the file versions found in them and the files' per-line errors (tables
 * sources, source_files, source_file_errors). A file's chain (src/ingest/sources/job.ts)
 * moves its checkpoint, `position`, with compare-and-set writes.
 */

export type FileStatus = (typeof INGESTION_STATUSES)[number];
const OPEN = ["pending", "processing"] as const;

const changes = (r: unknown) => (r as { meta?: { changes?: number } } | undefined)?.meta?.changes ?? 0;

// ---------------------------------------------------------------- sources

export async function insertSource(db: ControlDb, row: SourceRow): Promise<void> {
  await db.insert(sources).values(row);
}

/** The one loader of a source row, scoped by tenant: another tenant's source is not found. */
export function getSource(db: ControlDb, tenantId: string, id: string): Promise<SourceRow | undefined> {
  return db
    .select()
    .from(sources)
    .where(and(eq(sources.id, id), eq(sources.tenant_id, tenantId)))
    .get();
}

export function listSources(db: ControlDb, tenantId: string): Promise<SourceRow[]> {
  return db.select().from(sources).where(eq(sources.tenant_id, tenantId)).orderBy(sources.created_at, sources.id).all();
}

/**
 * The sources the cron lists next, least recently listed first, over every tenant (or one,
 * `tenantId`, for a test driving one tenant's discovery).
 */
export function sourcesToListUnscoped(db: ControlDb, limit: number, tenantId?: string): Promise<SourceRow[]> {
  return db
    .select()
    .from(sources)
    .where(tenantId === undefined ? undefined : eq(sources.tenant_id, tenantId))
    .orderBy(sql`coalesce(${sources.last_listed_at}, 0)`, sources.id)
    .limit(limit)
    .all();
}

/** Deletes a source with its file records and their errors, in one batch; rows already ingested stay. */
export async function deleteSource(db: ControlDb, tenantId: string, id: string): Promise<boolean> {
  const files = db
    .select({ id: source_files.id })
    .from(source_files)
    .where(and(eq(source_files.source_id, id), eq(source_files.tenant_id, tenantId)));
  const [, , del] = await db.batch([
    db.delete(source_file_errors).where(inArray(source_file_errors.file_id, files)),
    db.delete(source_files).where(and(eq(source_files.source_id, id), eq(source_files.tenant_id, tenantId))),
    db.delete(sources).where(and(eq(sources.id, id), eq(sources.tenant_id, tenantId))),
  ]);
  return changes(del) > 0;
}

/** A listing went through: the source is reachable, and the sweep continues from `cursor` (null: a new sweep next time). */
export async function markSourceListed(db: ControlDb, tenantId: string, id: string, cursor: string | null, now: number): Promise<void> {
  await db
    .update(sources)
    .set({ status: "ok", last_error: null, list_cursor: cursor, last_listed_at: now, updated_at: now })
    .where(and(eq(sources.id, id), eq(sources.tenant_id, tenantId)));
}

/**
 * A listing failed: records why. Answers true only when this turned a reachable source
 * unreachable (the caller notifies once per outage, not once per cron tick).
 */
export async function markSourceUnreachable(db: ControlDb, tenantId: string, id: string, error: string, now: number): Promise<boolean> {
  const turned = await db
    .update(sources)
    .set({ status: "unreachable", last_error: error, last_listed_at: now, updated_at: now })
    .where(and(eq(sources.id, id), eq(sources.tenant_id, tenantId), eq(sources.status, "ok")))
    .run();
  if (turned.meta.changes > 0) return true;
  await db
    .update(sources)
    .set({ last_error: error, last_listed_at: now })
    .where(and(eq(sources.id, id), eq(sources.tenant_id, tenantId)));
  return false;
}

// ---------------------------------------------------------------- files

/** The one loader of a source file row, scoped by tenant. */
export function getSourceFile(db: ControlDb, tenantId: string, id: string): Promise<SourceFile | undefined> {
  return db
    .select()
    .from(source_files)
    .where(and(eq(source_files.id, id), eq(source_files.tenant_id, tenantId)))
    .get();
}

/** A page of a source's files by key (then etag), after key `after`. */
export function listSourceFiles(
  db: ControlDb,
  tenantId: string,
  sourceId: string,
  opts: { status?: FileStatus | undefined; after?: string | undefined; limit: number },
): Promise<SourceFile[]> {
  return db
    .select()
    .from(source_files)
    .where(
      and(
        eq(source_files.source_id, sourceId),
        eq(source_files.tenant_id, tenantId),
        opts.status ? eq(source_files.status, opts.status) : undefined,
        gt(source_files.key, opts.after ?? ""),
      ),
    )
    .orderBy(asc(source_files.key), asc(source_files.etag))
    .limit(opts.limit)
    .all();
}

/** The first `limit` errors of each of the tenant's files, by line then field. */
export async function firstErrorsOfFiles(db: ControlDb, tenantId: string, fileIds: string[], limit: number): Promise<Map<string, LineError[]>> {
  const out = new Map<string, LineError[]>();
  if (!fileIds.length) return out;
  // A window function: drizzle's builder cannot say "the first n per file".
  const rows = await db.all<LineError & { file_id: string }>(sql`
    SELECT file_id, line, field, message FROM (
      SELECT e.file_id, e.line, e.field, e.message, row_number() OVER (PARTITION BY e.file_id ORDER BY e.line, e.field) AS n
      FROM ${source_file_errors} e JOIN ${source_files} f ON f.id = e.file_id
      WHERE f.tenant_id = ${tenantId} AND e.file_id IN (SELECT value FROM json_each(${JSON.stringify(fileIds)}))
    ) WHERE n <= ${limit} ORDER BY file_id, line, field`);
  for (const r of rows) {
    const list = out.get(r.file_id) ?? [];
    list.push({ line: r.line, field: r.field, message: r.message });
    out.set(r.file_id, list);
  }
  return out;
}

export interface SourceStats {
  files: Record<FileStatus, number>;
  rows_accepted: number;
  rows_rejected: number;
}

/** Files per status and rows of one of the tenant's sources. */
export async function sourceStats(db: ControlDb, tenantId: string, sourceId: string): Promise<SourceStats> {
  const rows = await db
    .select({
      status: source_files.status,
      n: sql<number>`count(*)`,
      ok: sql<number>`sum(${source_files.rows_accepted})`,
      bad: sql<number>`sum(${source_files.rows_rejected})`,
    })
    .from(source_files)
    .where(and(eq(source_files.source_id, sourceId), eq(source_files.tenant_id, tenantId)))
    .groupBy(source_files.status)
    .all();
  const out: SourceStats = { files: { pending: 0, processing: 0, completed: 0, failed: 0 }, rows_accepted: 0, rows_rejected: 0 };
  for (const r of rows) {
    out.files[r.status] = r.n;
    out.rows_accepted += r.ok;
    out.rows_rejected += r.bad;
  }
  return out;
}

/** A listed object that is a file to ingest: its new id, and what classifyKey made of its key. */
export interface ListedFile {
  id: string;
  key: string;
  etag: string;
  size: number;
  model: string;
  format: SourceFile["format"];
  gzip: boolean;
  encrypted: boolean;
}

/**
 * S3 keys are up to 1 KB: 50 rows per statement keep its JSON parameter under D1's 100 KB per
 * statement. https://developers.cloudflare.com/d1/platform/limits/
 */
export const DISCOVERED_PER_BATCH = 50;

/**
 * Records listed files: each (source, key, etag) not known yet gets a source_files row AND the
 * row of its `source_file` chain (position 0, leased until `leaseUntil`), in one batch, so a new
 * file can never be left without the chain that ingests it. Answers the ids of the new rows
 * (the caller sends their first chain message). At most DISCOVERED_PER_BATCH files per call.
 *
 * The chains are written here, in bulk, rather than one startChain per file: a listing tick
 * finds up to thousands of files, and every statement of a batch counts against the queries a
 * Worker invocation may make. https://developers.cloudflare.com/d1/platform/limits/
 * The ids are fresh, so a chain is made exactly for the rows this batch inserted.
 */
export async function insertDiscoveredFiles(
  d1: D1Database,
  source: Pick<SourceRow, "id" | "tenant_id">,
  files: readonly ListedFile[],
  now: number,
  leaseUntil: number,
): Promise<string[]> {
  if (!files.length) return [];
  if (files.length > DISCOVERED_PER_BATCH) throw new Error(`at most ${DISCOVERED_PER_BATCH} files per batch`);
  const json = JSON.stringify(files.map((f) => [f.id, f.key, f.etag, f.size, f.model, f.format, f.gzip ? 1 : 0, f.encrypted ? 1 : 0]));
  if (utf8Length(json) > 100_000) throw new Error("listed keys too long for one statement");
  // Raw statements on the binding: drizzle's D1 batch cannot run a raw query with parameters.
  const [created] = await d1.batch<{ id: string }>([
    d1
      .prepare(
        `INSERT INTO source_files (id, source_id, tenant_id, key, etag, size, model, format, gzip, encrypted, status, position, next_line, created_at, updated_at)
         SELECT value->>0, ?1, ?2, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, 'pending', 0, 1, ?3, ?3 FROM json_each(?4)
         WHERE true ON CONFLICT (source_id, key, etag) DO NOTHING RETURNING id`,
      )
      .bind(source.id, source.tenant_id, now, json),
    d1
      .prepare(
        `INSERT INTO chains (id, kind, tenant_id, subject_id, status, position, attempts, lease_until, holder, created_at, updated_at)
         SELECT ?1 || f.id, 'source_file', f.tenant_id, f.id, 'running', 0, 0, ?2, NULL, ?3, ?3
         FROM source_files f WHERE f.id IN (SELECT value->>0 FROM json_each(?4))
         ON CONFLICT DO NOTHING`,
      )
      .bind(chainId("source_file", ""), leaseUntil, now, json),
  ]);
  return (created?.results ?? []).map((r) => r.id);
}

export interface FileChunkRecord {
  from: number;
  to: number;
  nextLine: number;
  accepted: number;
  rejected: number;
  /** the errors to keep (the caller caps them) */
  errors: readonly LineError[];
  final: boolean;
  /** CSV: the header's columns, recorded with the first chunk */
  columns?: string[] | undefined;
  now: number;
}

/**
 * Records a processed chunk of a file: its line errors and the new checkpoint, in one batch.
 * The update only applies while the checkpoint is still at `from` and the file open, so of
 * two runs of the same link only one advances it. Returns whether this call advanced it.
 */
export async function recordFileChunk(db: ControlDb, tenantId: string, fileId: string, c: FileChunkRecord): Promise<boolean> {
  const errors = errorJsonChunks(c.errors).map((json) =>
    db
      .insert(source_file_errors)
      .select(sql`SELECT ${fileId}, value->>0, value->>1, value->>2 FROM json_each(${json}) WHERE true`)
      .onConflictDoNothing(),
  );
  const advance = db
    .update(source_files)
    .set({
      position: c.to,
      next_line: c.nextLine,
      chunks: sql`${source_files.chunks} + 1`,
      rows_accepted: sql`${source_files.rows_accepted} + ${c.accepted}`,
      rows_rejected: sql`${source_files.rows_rejected} + ${c.rejected}`,
      ...(c.columns ? { columns: JSON.stringify(c.columns) } : {}),
      status: c.final ? "completed" : "processing",
      updated_at: c.now,
      finished_at: c.final ? c.now : null,
    })
    .where(
      and(eq(source_files.id, fileId), eq(source_files.tenant_id, tenantId), eq(source_files.position, c.from), inArray(source_files.status, OPEN)),
    );
  const statements: BatchItem<"sqlite">[] = [...errors, advance];
  const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  return changes(results[results.length - 1]) > 0;
}

/**
 * Records that an encrypted file's decrypted copy is in R2 (its size), once: only while the file
 * is open, at position 0 and without a copy yet. Returns whether this call recorded it.
 */
export async function recordDecryptedCopy(db: ControlDb, tenantId: string, fileId: string, size: number, now: number): Promise<boolean> {
  const r = await db
    .update(source_files)
    .set({ decrypted_size: size, updated_at: now })
    .where(
      and(
        eq(source_files.id, fileId),
        eq(source_files.tenant_id, tenantId),
        eq(source_files.position, 0),
        isNull(source_files.decrypted_size),
        inArray(source_files.status, OPEN),
      ),
    )
    .run();
  return r.meta.changes > 0;
}

/** Stops an open file at checkpoint `position` with a reason a person can act on. Returns whether it stopped it. */
export async function failSourceFile(db: ControlDb, tenantId: string, fileId: string, position: number, message: string, now: number): Promise<boolean> {
  const r = await db
    .update(source_files)
    .set({ status: "failed", error: message, updated_at: now, finished_at: now })
    .where(
      and(eq(source_files.id, fileId), eq(source_files.tenant_id, tenantId), eq(source_files.position, position), inArray(source_files.status, OPEN)),
    )
    .run();
  return r.meta.changes > 0;
}
