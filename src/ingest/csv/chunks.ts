import type { Env } from "../../env";
import { getModel } from "../../models";
import { insertRowsOnce, validatePartial } from "../batch";
import { type Ingestion, failIngestion, getIngestion, markEnqueued, recordChunk } from "./ingestions";
import { recordToItem } from "./models";
import { type RecordError, parseChunk } from "./parse";

/**
 * Chunk sizes. A chunk is one queue message: it reads at most CSV_CHUNK_BYTES from R2 with a
 * ranged get (memory stays flat whatever the file size) and handles at most CSV_CHUNK_ROWS
 * records, which keeps one message's CPU time and D1 batch well inside the Worker and D1 limits
 * (measured locally: ~4.5 s wall per 50,000-row chunk; 1 MiB / 10,000-row chunks took twice as
 * long per file, the per-message overhead dominating).
 * https://developers.cloudflare.com/workers/platform/limits/#cpu-time
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_CHUNK_ROWS = 50_000;
/** Longest single record: a range with no complete record is re-read twice as long up to this. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** The key under which a chunk's rows are recorded as written (see insertRowsOnce). */
const chunkKey = (ingestionId: string, offset: number) => `csv chunk ${ingestionId} ${offset}`;

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
  const v = validatePartial(
    model,
    items,
    parsed.records.map((r) => r.line),
    { source: "text" },
  );
  const rows = v.rows;
  const errors: RecordError[] = [...parsed.errors, ...v.errors];
  const rejected = parsed.errors.length + v.rejected;
  errors.sort((a, b) => a.line - b.line);

  await insertRowsOnce(env, ing.tenant_id, model, rows, chunkKey(ing.id, ing.next_offset), "csv-chunk");

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
