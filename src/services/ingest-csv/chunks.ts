import type { Env } from "../../env";
import { getModel } from "../../models";
import type { ModelDef } from "../../models";
import type { Row } from "../ingest";
import { insertRows, resolveTenant, validateItems } from "../ingest";
import type { TenantData } from "../shards";
import { type Ingestion, failIngestion, getIngestion, markEnqueued, recordChunk } from "./ingestions";
import { recordToItem } from "./models";
import { type RecordError, parseChunk } from "./parse";

/**
 * Chunk sizes. A chunk is one queue message: it reads at most CSV_CHUNK_BYTES from R2 with a
 * ranged get (memory stays flat whatever the file size) and handles at most CSV_CHUNK_ROWS
 * records, which keeps one message's CPU time and D1 batch well inside the Worker and D1 limits.
 * https://developers.cloudflare.com/workers/platform/limits/#cpu-time
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const DEFAULT_CHUNK_ROWS = 10_000;
/** Longest single record: a range with no complete record is re-read twice as long up to this. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * How long the record that marks a chunk as written is kept: longer than a message can wait
 * in the queue (retention is at most 14 days), so any redelivery still finds it.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
const CHUNK_GUARD_SECONDS = 15 * 24 * 60 * 60;

/**
 * A chunk's rows and the record saying they are written commit in one D1 batch on the tenant's
 * shard, so a redelivery after a crash between the write and the checkpoint (which lives in the
 * control DB) does not write them twice. The record sits in idempotency_keys under a key no
 * client can send (it contains spaces; see IDEMPOTENCY_KEY).
 */
const chunkKey = (ingestionId: string, offset: number) => `csv chunk ${ingestionId} ${offset}`;

async function chunkWritten(td: TenantData, key: string): Promise<boolean> {
  const row = await td.db.prepare("SELECT 1 AS hit FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2").bind(td.tenantId, key).first();
  return row !== null;
}

function markWritten(db: D1Database, tenantId: string, key: string): D1PreparedStatement {
  const t = Math.floor(Date.now() / 1000);
  return db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, 'csv-chunk', 201, '', ?3, ?4)`,
    )
    .bind(tenantId, key, t, t + CHUNK_GUARD_SECONDS);
}

/** Writes a chunk's rows once, however often the chunk is processed. */
async function writeChunkRows(env: Env, ing: Ingestion, model: ModelDef, rows: Row[]): Promise<void> {
  if (!rows.length) return;
  const td = await resolveTenant(env, ing.tenant_id);
  const key = chunkKey(ing.id, ing.next_offset);
  if (await chunkWritten(td, key)) return;
  try {
    await insertRows(env, ing.tenant_id, model, rows, (db) => [markWritten(db, td.tenantId, key)]);
  } catch (err) {
    // A concurrent delivery of the same message committed first: its batch holds these rows.
    if (!(await chunkWritten(td, key))) throw err;
  }
}

export interface CsvIngestMessage {
  type: "csv_ingest";
  version: 1;
  ingestion_id: string;
  tenant_id: string;
  /** byte offset of the chunk's first record */
  offset: number;
}

export function chunkSettings(env: Pick<Env, "CSV_CHUNK_BYTES" | "CSV_CHUNK_ROWS">) {
  const num = (v: string | undefined, d: number) => {
    const n = Number.parseInt(v ?? "", 10);
    return Number.isInteger(n) && n > 0 ? n : d;
  };
  return { bytes: num(env.CSV_CHUNK_BYTES, DEFAULT_CHUNK_BYTES), rows: num(env.CSV_CHUNK_ROWS, DEFAULT_CHUNK_ROWS) };
}

export async function enqueueChunk(env: Env, ing: Pick<Ingestion, "id" | "tenant_id">, offset: number): Promise<void> {
  const msg: CsvIngestMessage = { type: "csv_ingest", version: 1, ingestion_id: ing.id, tenant_id: ing.tenant_id, offset };
  await env.JOBS.send(msg);
  await markEnqueued(env, ing.id, offset);
}

/** Reads the next complete records from `offset`, widening the range while it holds none. */
async function readRecords(env: Env, ing: Ingestion, columns: number) {
  let window = ing.chunk_bytes;
  for (;;) {
    const length = Math.min(window, ing.file_bytes - ing.next_offset);
    const final = ing.next_offset + length >= ing.file_bytes;
    let buf = new Uint8Array(0);
    if (length > 0) {
      const obj = await env.FILES.get(ing.file_key, { range: { offset: ing.next_offset, length } });
      if (!obj) return { missing: true as const };
      buf = new Uint8Array(await obj.arrayBuffer());
    }
    const parsed = parseChunk(buf, { final, firstLine: ing.next_line, columns, maxRecords: ing.chunk_rows, bom: ing.next_offset === 0 });
    if (parsed.consumed > 0 || final) return { parsed, done: final && parsed.consumed === buf.length };
    if (window >= MAX_RECORD_BYTES) return { tooLong: window };
    window = Math.min(window * 2, MAX_RECORD_BYTES);
  }
}

/**
 * Handles one `csv_ingest` message: parse the chunk at `offset`, validate its records against
 * the model, write the good rows to the tenant's shard, record the checkpoint and errors, and
 * send the message for the next chunk. Idempotent: a message whose chunk is already recorded
 * does nothing, except resend the next message if that send was lost.
 */
export async function processCsvChunk(env: Env, msg: CsvIngestMessage): Promise<void> {
  const ing = await getIngestion(env, msg.tenant_id, msg.ingestion_id);
  if (!ing || ing.status === "completed" || ing.status === "failed") return;
  if (ing.next_offset !== msg.offset) {
    if (ing.prev_offset === msg.offset && (ing.enqueued_offset ?? -1) < ing.next_offset) await enqueueChunk(env, ing, ing.next_offset);
    return;
  }
  const model = getModel(ing.model);
  if (!model) return failIngestion(env, ing, msg.offset, `The model ${ing.model} is no longer in the catalog`);
  const columns = JSON.parse(ing.columns) as string[];

  const read = await readRecords(env, ing, columns.length);
  if ("missing" in read) return failIngestion(env, ing, msg.offset, "The staged file is gone from storage; upload it again");
  if ("tooLong" in read) {
    return failIngestion(
      env,
      ing,
      msg.offset,
      `Line ${ing.next_line}: no end of record within ${read.tooLong} bytes (is a quote left open?); nothing after this line was read`,
    );
  }
  const { parsed, done } = read;

  const items = parsed.records.map((r) => recordToItem(columns, r.cells));
  const errors: RecordError[] = [...parsed.errors];
  let good = items;
  const first = validateItems(model, items, { source: "text", maxErrors: Number.POSITIVE_INFINITY });
  let rows = first.ok ? first.rows : [];
  if (!first.ok) {
    const bad = new Set<number>();
    for (const e of first.errors) {
      bad.add(e.index);
      errors.push({ line: parsed.records[e.index]?.line ?? 0, field: e.field, message: `${e.field} ${e.reason}` });
    }
    good = items.filter((_, i) => !bad.has(i));
    const second = validateItems(model, good, { source: "text" });
    if (!second.ok) throw new Error(`rows valid one by one failed together: ${JSON.stringify(second.errors[0])}`);
    rows = second.rows;
  }
  const rejected = parsed.errors.length + (items.length - good.length);
  errors.sort((a, b) => a.line - b.line);

  await writeChunkRows(env, ing, model, rows);

  const to = ing.next_offset + parsed.consumed;
  const won = await recordChunk(env, ing, { from: ing.next_offset, to, nextLine: parsed.nextLine, accepted: rows.length, rejected, errors, final: done });
  if (!won) return;
  if (done) await env.FILES.delete(ing.file_key);
  else await enqueueChunk(env, ing, to);
}

/**
 * A chunk message that failed every retry lands on the dead-letter queue: the ingestion stops
 * there, marked failed, with the rows before that chunk kept.
 * https://developers.cloudflare.com/queues/configuration/dead-letter-queues/
 */
export async function giveUpCsvChunk(env: Env, msg: CsvIngestMessage): Promise<void> {
  const ing = await getIngestion(env, msg.tenant_id, msg.ingestion_id);
  if (!ing || ing.next_offset !== msg.offset) return;
  await failIngestion(
    env,
    ing,
    msg.offset,
    `Processing kept failing from line ${ing.next_line} and was given up after its retries; the rows before that line were ingested. Upload the rest again.`,
  );
}
