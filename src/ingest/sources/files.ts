/** The source_files and source_file_errors tables (migrations/control/0009_sources.sql). */
import type { Env } from "../../env";
import type { RecordIssue } from "../batch";
import type { FileFormat } from "./layout";

export type FileStatus = "pending" | "processing" | "completed" | "failed";

export interface SourceFile {
  id: string;
  source_id: string;
  tenant_id: string;
  key: string;
  etag: string;
  size: number;
  model: string;
  format: FileFormat;
  gzip: number;
  status: FileStatus;
  columns: string | null;
  position: number;
  next_line: number;
  prev_position: number | null;
  enqueued_position: number | null;
  chunks: number;
  rows_accepted: number;
  rows_rejected: number;
  error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** Per-line errors kept per file; rows_rejected still counts every rejected row. */
export const MAX_STORED_ERRORS = 1000;

const now = () => Math.floor(Date.now() / 1000);

export async function getFile(env: Env, tenantId: string, id: string): Promise<SourceFile | null> {
  return env.DB.prepare("SELECT * FROM source_files WHERE id = ?1 AND tenant_id = ?2").bind(id, tenantId).first<SourceFile>();
}

export async function listFiles(env: Env, sourceId: string, opts: { status?: FileStatus; after?: string; limit: number }): Promise<SourceFile[]> {
  const { results } = await env.DB.prepare(
    `SELECT * FROM source_files WHERE source_id = ?1 AND (?2 IS NULL OR status = ?2) AND key > ?3
     ORDER BY key, etag LIMIT ?4`,
  )
    .bind(sourceId, opts.status ?? null, opts.after ?? "", opts.limit)
    .all<SourceFile>();
  return results;
}

/** The first `limit` errors of each file, by line. */
export async function fileErrors(env: Env, fileIds: string[], limit: number): Promise<Map<string, RecordIssue[]>> {
  const out = new Map<string, RecordIssue[]>();
  if (!fileIds.length) return out;
  const { results } = await env.DB.prepare(
    `SELECT file_id, line, field, message FROM (
       SELECT e.*, row_number() OVER (PARTITION BY file_id ORDER BY line, field) AS n
       FROM source_file_errors e WHERE file_id IN (SELECT value FROM json_each(?1))
     ) WHERE n <= ?2 ORDER BY file_id, line, field`,
  )
    .bind(JSON.stringify(fileIds), limit)
    .all<RecordIssue & { file_id: string }>();
  for (const r of results) {
    const list = out.get(r.file_id) ?? [];
    list.push({ line: r.line, field: r.field, message: r.message });
    out.set(r.file_id, list);
  }
  return out;
}

export interface ChunkOutcome {
  from: number;
  to: number;
  nextLine: number;
  accepted: number;
  rejected: number;
  errors: RecordIssue[];
  final: boolean;
  /** CSV: the header's columns, recorded with the first chunk */
  columns?: string[];
}

/**
 * Records a processed chunk: its line errors and the new checkpoint, in one batch. The update
 * only applies while the checkpoint is still at `from`, so of two deliveries of the same
 * message only one advances the file (and sends the next message). Returns whether this call
 * advanced it.
 */
export async function recordChunk(env: Env, f: SourceFile, o: ChunkOutcome): Promise<boolean> {
  const t = now();
  const stored = o.errors.slice(0, Math.max(0, MAX_STORED_ERRORS - f.rows_rejected));
  const stmts: D1PreparedStatement[] = [];
  // All errors in one JSON parameter: D1 allows 100 bound parameters and 100 KB per statement.
  // https://developers.cloudflare.com/d1/platform/limits/
  for (let i = 0; i < stored.length; i += 100) {
    const part = stored.slice(i, i + 100).map((e) => [e.line, e.field, e.message.slice(0, 500)]);
    stmts.push(
      env.DB.prepare(
        `INSERT OR IGNORE INTO source_file_errors (file_id, line, field, message)
         SELECT ?1, value->>0, value->>1, value->>2 FROM json_each(?2)`,
      ).bind(f.id, JSON.stringify(part)),
    );
  }
  stmts.push(
    env.DB.prepare(
      `UPDATE source_files SET position = ?3, next_line = ?4, prev_position = ?2, chunks = chunks + 1,
         rows_accepted = rows_accepted + ?5, rows_rejected = rows_rejected + ?6, columns = coalesce(?10, columns),
         status = ?7, updated_at = ?8, finished_at = ?9
       WHERE id = ?1 AND position = ?2 AND status IN ('pending', 'processing')`,
    ).bind(
      f.id,
      o.from,
      o.to,
      o.nextLine,
      o.accepted,
      o.rejected,
      o.final ? "completed" : "processing",
      t,
      o.final ? t : null,
      o.columns ? JSON.stringify(o.columns) : null,
    ),
  );
  const res = await env.DB.batch(stmts);
  return (res[res.length - 1]?.meta.changes ?? 0) > 0;
}

/** Notes that the message for `position` was sent. */
export async function markEnqueued(env: Env, id: string, position: number): Promise<void> {
  await env.DB.prepare(
    "UPDATE source_files SET enqueued_position = ?2 WHERE id = ?1 AND (enqueued_position IS NULL OR enqueued_position < ?2)",
  )
    .bind(id, position)
    .run();
}

/** Stops a file at `position` with a reason a person can act on. Returns whether it stopped it. */
export async function failFile(env: Env, f: SourceFile, position: number, message: string): Promise<boolean> {
  const t = now();
  const res = await env.DB.prepare(
    `UPDATE source_files SET status = 'failed', error = ?3, updated_at = ?4, finished_at = ?4
     WHERE id = ?1 AND position = ?2 AND status IN ('pending', 'processing')`,
  )
    .bind(f.id, position, message, t)
    .run();
  return res.meta.changes > 0;
}

export interface SourceStats {
  files: Record<FileStatus, number>;
  rows_accepted: number;
  rows_rejected: number;
}

/** Files per status and rows of a source, for its status answer. */
export async function sourceStats(env: Env, sourceId: string): Promise<SourceStats> {
  const { results } = await env.DB.prepare(
    "SELECT status, count(*) AS n, sum(rows_accepted) AS ok, sum(rows_rejected) AS bad FROM source_files WHERE source_id = ?1 GROUP BY status",
  )
    .bind(sourceId)
    .all<{ status: FileStatus; n: number; ok: number; bad: number }>();
  const out: SourceStats = { files: { pending: 0, processing: 0, completed: 0, failed: 0 }, rows_accepted: 0, rows_rejected: 0 };
  for (const r of results) {
    out.files[r.status] = r.n;
    out.rows_accepted += r.ok;
    out.rows_rejected += r.bad;
  }
  return out;
}
