import type { Env } from "../../env";
import type { RecordError } from "./parse";

/** The ingestions and ingestion_errors tables (migrations/control/0003_ingestions.sql). */

export type IngestionStatus = "pending" | "processing" | "completed" | "failed";

export interface Ingestion {
  id: string;
  tenant_id: string;
  model: string;
  status: IngestionStatus;
  file_key: string;
  file_name: string | null;
  file_bytes: number;
  columns: string;
  chunk_bytes: number;
  chunk_rows: number;
  next_offset: number;
  next_line: number;
  prev_offset: number | null;
  enqueued_offset: number | null;
  chunks: number;
  rows_accepted: number;
  rows_rejected: number;
  error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** Per-row errors kept per ingestion; rows_rejected still counts every rejected row. */
export const MAX_STORED_ERRORS = 1000;

const now = () => Math.floor(Date.now() / 1000);

export async function createIngestion(
  env: Env,
  v: Pick<Ingestion, "id" | "tenant_id" | "model" | "file_key" | "file_name" | "file_bytes" | "chunk_bytes" | "chunk_rows" | "next_offset" | "next_line"> & {
    columns: string[];
  },
): Promise<void> {
  const t = now();
  await env.DB.prepare(
    `INSERT INTO ingestions (id, tenant_id, model, status, file_key, file_name, file_bytes, columns, chunk_bytes, chunk_rows,
       next_offset, next_line, enqueued_offset, created_at, updated_at)
     VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10, ?12, ?12)`,
  )
    .bind(v.id, v.tenant_id, v.model, v.file_key, v.file_name, v.file_bytes, JSON.stringify(v.columns), v.chunk_bytes, v.chunk_rows, v.next_offset, v.next_line, t)
    .run();
}

/** One ingestion of one tenant; another tenant's id is not found. */
export async function getIngestion(env: Env, tenantId: string, id: string): Promise<Ingestion | null> {
  return env.DB.prepare("SELECT * FROM ingestions WHERE id = ?1 AND tenant_id = ?2").bind(id, tenantId).first<Ingestion>();
}

export async function listErrors(env: Env, id: string, afterLine: number, limit: number): Promise<RecordError[]> {
  const { results } = await env.DB.prepare(
    "SELECT line, field, message FROM ingestion_errors WHERE ingestion_id = ?1 AND line > ?2 ORDER BY line, field LIMIT ?3",
  )
    .bind(id, afterLine, limit)
    .all<RecordError>();
  return results;
}

export interface ChunkOutcome {
  from: number;
  to: number;
  nextLine: number;
  accepted: number;
  /** records rejected (a record may have several errors) */
  rejected: number;
  errors: RecordError[];
  final: boolean;
}

/**
 * Records a processed chunk: its row errors and the new checkpoint, in one batch. The update
 * only applies while the checkpoint is still at `from`, so of two deliveries of the same
 * message only one advances the ingestion (and sends the next message). Returns whether this
 * call advanced it.
 */
export async function recordChunk(env: Env, ing: Ingestion, o: ChunkOutcome): Promise<boolean> {
  const t = now();
  const room = Math.max(0, MAX_STORED_ERRORS - ing.rows_rejected);
  const stored = o.errors.slice(0, room);
  const stmts: D1PreparedStatement[] = [];
  // One statement per 30 errors: 3 parameters each, under D1's 100 bound parameters per query.
  // https://developers.cloudflare.com/d1/platform/limits/
  for (let i = 0; i < stored.length; i += 30) {
    const part = stored.slice(i, i + 30);
    stmts.push(
      env.DB.prepare(
        `INSERT OR IGNORE INTO ingestion_errors (ingestion_id, line, field, message)
         SELECT ?1, value->>0, value->>1, value->>2 FROM json_each(?2)`,
      ).bind(ing.id, JSON.stringify(part.map((e) => [e.line, e.field, e.message]))),
    );
  }
  stmts.push(
    env.DB.prepare(
      `UPDATE ingestions SET next_offset = ?3, next_line = ?4, prev_offset = ?2, chunks = chunks + 1,
         rows_accepted = rows_accepted + ?5, rows_rejected = rows_rejected + ?6,
         status = ?7, updated_at = ?8, finished_at = ?9
       WHERE id = ?1 AND next_offset = ?2 AND status IN ('pending', 'processing')`,
    ).bind(ing.id, o.from, o.to, o.nextLine, o.accepted, o.rejected, o.final ? "completed" : "processing", t, o.final ? t : null),
  );
  const res = await env.DB.batch(stmts);
  return (res[res.length - 1]?.meta.changes ?? 0) > 0;
}

/** Notes that the message for `offset` was sent (a redelivered earlier message then sends nothing). */
export async function markEnqueued(env: Env, id: string, offset: number): Promise<void> {
  await env.DB.prepare("UPDATE ingestions SET enqueued_offset = ?2 WHERE id = ?1 AND (enqueued_offset IS NULL OR enqueued_offset < ?2)")
    .bind(id, offset)
    .run();
}

/** Stops an ingestion at `offset` with a reason a person can act on. */
export async function failIngestion(env: Env, ing: Ingestion, offset: number, message: string): Promise<void> {
  const t = now();
  await env.DB.prepare(
    "UPDATE ingestions SET status = 'failed', error = ?3, updated_at = ?4, finished_at = ?4 WHERE id = ?1 AND next_offset = ?2 AND status IN ('pending', 'processing')",
  )
    .bind(ing.id, offset, message, t)
    .run();
}
