import { type ChainJob, type StepContext, type StepOutcome, yieldToRuntime } from "../../chain";
import { failIngestion, getIngestion, recordIngestionChunk } from "../../db/ingestions";
import type { ChainRow, Ingestion } from "../../db/schema";
import type { Env } from "../../env";
import { getModel } from "../../models";
import type { Services } from "../../services";
import { insertRowsOnce, validatePartial } from "../batch";
import { MAX_STORED_ERRORS } from "./ingestions";
import { recordToItem } from "./models";
import { type RecordError, parseChunk } from "./parse";

/**
 * Chunk sizes. A chunk is one link of the ingestion's chain (one queue message): it reads at most CSV_CHUNK_BYTES from R2 with a
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

export function chunkSettings(env: Pick<Env, "CSV_CHUNK_BYTES" | "CSV_CHUNK_ROWS">) {
  const num = (v: string | undefined, d: number) => {
    const n = Number.parseInt(v ?? "", 10);
    return Number.isInteger(n) && n > 0 ? n : d;
  };
  return { bytes: num(env.CSV_CHUNK_BYTES, DEFAULT_CHUNK_BYTES), rows: num(env.CSV_CHUNK_ROWS, DEFAULT_CHUNK_ROWS) };
}

/** Reads the next complete records from the checkpoint, widening the range while it holds none. */
async function readRecords(s: Services, ing: Ingestion, columns: number) {
  let window = ing.chunk_bytes;
  for (;;) {
    const length = Math.min(window, ing.file_bytes - ing.next_offset);
    const final = ing.next_offset + length >= ing.file_bytes;
    let buf = new Uint8Array(0);
    if (length > 0) {
      const obj = await s.files.get(ing.file_key, { range: { offset: ing.next_offset, length } });
      if (!obj) return { missing: true as const };
      buf = new Uint8Array(await obj.arrayBuffer());
    }
    const parsed = parseChunk(buf, { final, firstLine: ing.next_line, columns, maxRecords: ing.chunk_rows, bom: ing.next_offset === 0 });
    if (parsed.consumed > 0 || final) return { parsed, done: final && parsed.consumed === buf.length };
    if (window >= MAX_RECORD_BYTES) return { tooLong: window };
    window = Math.min(window * 2, MAX_RECORD_BYTES);
  }
}

/** Stops the ingestion at its checkpoint with a reason a person can act on, and ends the chain. */
async function fail(s: Services, ing: Ingestion, message: string): Promise<StepOutcome> {
  await failIngestion(s.db, ing.tenant_id, ing.id, ing.next_offset, message, s.clock.seconds());
  return { failed: message };
}

/** Where the chain goes when the ingestion is not where this link expected it. */
const resync = (ing: Ingestion | undefined): StepOutcome =>
  !ing || ing.status === "completed" || ing.status === "failed" ? { done: true } : { next: ing.next_offset };

/**
 * One link of a CSV ingestion's chain (`csv_ingest`, subject = the ingestion, position = the
 * byte offset of the chunk's first record): parse the chunk, validate its records against the
 * model, write the good rows to the tenant's shard, record the checkpoint and errors.
 * Idempotent at its position: the rows commit with a record of the chunk on the shard
 * (insertRowsOnce), and the checkpoint moves only from this position (compare-and-set), so a
 * link run again after a crash anywhere writes nothing twice.
 */
export async function csvIngestStep({ services: s, chain }: StepContext): Promise<StepOutcome> {
  const ing = await getIngestion(s.db, chain.tenant_id, chain.subject_id);
  // Done, failed, gone, or its checkpoint already recorded by a run whose chain did not move on.
  if (!ing || ing.status === "completed" || ing.status === "failed" || ing.next_offset !== chain.position) return resync(ing);
  const model = getModel(ing.model);
  if (!model) return fail(s, ing, `The model ${ing.model} is no longer in the catalog`);
  const columns = JSON.parse(ing.columns) as string[];

  const read = await readRecords(s, ing, columns.length);
  if ("missing" in read) return fail(s, ing, "The staged file is gone from storage; upload it again");
  if ("tooLong" in read) {
    return fail(s, ing, `Line ${ing.next_line}: no end of record within ${read.tooLong} bytes (is a quote left open?); nothing after this line was read`);
  }
  const { parsed, done } = read;

  const items = parsed.records.map((r) => recordToItem(columns, r.cells));
  const v = validatePartial(
    model,
    items,
    parsed.records.map((r) => r.line),
    { source: "text", now: new Date(s.clock.now()) },
  );
  const rows = v.rows;
  const errors: RecordError[] = [...parsed.errors, ...v.errors];
  const rejected = parsed.errors.length + v.rejected;
  errors.sort((a, b) => a.line - b.line);

  // Other requests get the runtime once per chunk, between its parsing and validation and its
  // write, the link's two long pieces of work (yieldToRuntime).
  await yieldToRuntime();
  await insertRowsOnce(s, ing.tenant_id, model, rows, chunkKey(ing.id, ing.next_offset), "csv-chunk");

  const to = ing.next_offset + parsed.consumed;
  const won = await recordIngestionChunk(s.db, ing.tenant_id, ing.id, {
    from: ing.next_offset,
    to,
    nextLine: parsed.nextLine,
    accepted: rows.length,
    rejected,
    errors: errors.slice(0, Math.max(0, MAX_STORED_ERRORS - ing.rows_rejected)),
    final: done,
    now: s.clock.seconds(),
  });
  if (!won) return resync(await getIngestion(s.db, ing.tenant_id, ing.id));
  if (done) {
    await s.files.delete(ing.file_key);
    return { done: true };
  }
  return { next: to };
}

/**
 * The chain gave up (a link kept failing, or its message was dead-lettered): the ingestion
 * stops at its checkpoint, marked failed, with the rows before it kept.
 */
export async function giveUpCsvIngestion(s: Services, chain: ChainRow): Promise<void> {
  const ing = await getIngestion(s.db, chain.tenant_id, chain.subject_id);
  if (!ing) return;
  await failIngestion(
    s.db,
    ing.tenant_id,
    ing.id,
    ing.next_offset,
    `Processing kept failing from line ${ing.next_line} and was given up after its retries; the rows before that line were ingested. Upload the rest again.`,
    s.clock.seconds(),
  );
}

/** The `csv_ingest` chain job (registered in src/jobs/index.ts). */
export const csvIngestJob: ChainJob = { step: csvIngestStep, giveUp: giveUpCsvIngestion };
