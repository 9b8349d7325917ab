/**
 * Ingestion of one file version of a source: a `source_file` chain (src/chain), subject = the
 * file, position = its checkpoint, one link (one queue message) per chunk:
 *
 * - NDJSON and CSV: a ranged GET of `SOURCE_CHUNK_BYTES` from the checkpoint (`position`, a
 *   byte offset); the chunk ends after the last complete line, and the next one starts at
 *   the byte after it. A line longer than the window widens it (up to MAX_RECORD_BYTES).
 * - gzip: a deflate stream cannot be entered in the middle, so each link streams the
 *   file from its start through DecompressionStream, discards the decompressed bytes before
 *   the checkpoint (an offset in the decompressed text) and reads one window after it. Memory
 *   stays flat; the work is quadratic in the number of chunks (documented in docs/sources.md),
 *   and the link heartbeats its lease while it streams.
 * - Parquet: one row group per link (`position` is the row group), its column chunks read
 *   with ranged GETs through hyparquet.
 *
 * Exactly once: rows go to the tenant's shard together with a record of the chunk
 * (insertRowsOnce, key `source chunk <file> <position>`) and the checkpoint goes to the
 * control DB only if it is still at `position` (recordFileChunk). A link run again before the
 * checkpoint finds the record and writes no rows, then moves the checkpoint; one after it
 * only moves the chain on.
 */
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { type ChainJob, LeaseLost, type StepContext, type StepOutcome, yieldToRuntime } from "../../chain";
import type { ChainRow, SourceFile, SourceRow } from "../../db/schema";
import { failSourceFile, getSource, getSourceFile, recordDecryptedCopy, recordFileChunk } from "../../db/sources";
import type { Env } from "../../env";
import { getModel } from "../../models";
import { tenantModel } from "../../tenants/custom-fields";
import type { ModelDef } from "../../models";
import type { Services } from "../../services";
import { TargetError } from "../../targets/types";
import { type RecordIssue, insertRowsOnce, validatePartial } from "../batch";
import { formatTimestamp } from "../batch/formats";
import { MAX_RECORD_BYTES } from "../csv/chunks";
import { checkHeader, recordToItem } from "../csv/models";
import { parseChunk, parseHeader } from "../csv/parse";
import { DecryptionError, decryptToStaging, readDecryptionKey, stagedKey, stagedStorage } from "./decrypt";
import { parseNdjsonChunk } from "./ndjson";
import { notify, sourceConfig } from "./sources";
import type { SourceConfig } from "./config";
import { type SourceStorage, openStorage } from "./storage";

/** Per-line errors kept per file; rows_rejected still counts every rejected row. */
export const MAX_STORED_ERRORS = 1000;

/**
 * Heartbeats of a link are at least this far apart: often enough to keep a lease of
 * LEASE_SECONDS while a gzip file streams from its start, rarely enough to cost little D1.
 */
const HEARTBEAT_EVERY_MS = 10_000;

/**
 * One chunk is one link of the file's chain: at most this many bytes read and records handled, which
 * keeps a message's CPU time and its D1 batch well inside the Worker and D1 limits.
 * https://developers.cloudflare.com/workers/platform/limits/#cpu-time
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const DEFAULT_CHUNK_ROWS = 10_000;

export function sourceChunkSettings(env: Pick<Env, "SOURCE_CHUNK_BYTES" | "SOURCE_CHUNK_ROWS">) {
  const num = (v: string | undefined, d: number) => {
    const n = Number.parseInt(v ?? "", 10);
    return Number.isInteger(n) && n > 0 ? n : d;
  };
  return { bytes: num(env.SOURCE_CHUNK_BYTES, DEFAULT_CHUNK_BYTES), rows: num(env.SOURCE_CHUNK_ROWS, DEFAULT_CHUNK_ROWS) };
}

/** A link's heartbeat, sent only when HEARTBEAT_EVERY_MS passed since the last one (by the services' clock). */
type Beat = () => Promise<void>;

function throttled(s: Services, heartbeat: () => Promise<void>): Beat {
  let last = s.clock.now();
  return async () => {
    if (s.clock.now() - last < HEARTBEAT_EVERY_MS) return;
    last = s.clock.now();
    await heartbeat();
  };
}

/**
 * The message of an error the file's own bytes caused (not gzip, not Parquet), for the reason
 * the file fails with. A failed read (TargetError: the chain retries the link) and a lost lease
 * (LeaseLost: another worker has the link) are not the file's fault: they are thrown on.
 */
function badFileMessage(err: unknown): string {
  if (err instanceof TargetError || err instanceof LeaseLost) throw err;
  return err instanceof Error ? err.message : String(err);
}

/** Decompressed bytes `[offset, offset + length)` of a gzip file, streamed from its start. */
async function gzipWindow(storage: SourceStorage, f: SourceFile, offset: number, length: number, beat: Beat): Promise<{ bytes: Uint8Array; final: boolean }> {
  // Errors of the download itself (a dropped connection) are retried; errors of the
  // decompressor mean the file is not gzip.
  const raw = (await storage.stream(f.key, f.etag)).getReader();
  let downloadFailed: unknown = null;
  const source = new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await raw.read();
        if (done) c.close();
        else c.enqueue(value);
      } catch (err) {
        downloadFailed = err;
        c.error(err);
      }
    },
    cancel: (reason) => raw.cancel(reason),
  });
  const reader = source.pipeThrough(new DecompressionStream("gzip")).getReader();
  const out = new Uint8Array(length);
  let seen = 0;
  let filled = 0;
  let yieldAt = length;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes: out.subarray(0, filled), final: true };
      await beat();
      // Streaming up to the checkpoint is the long part of a late link: other requests get the
      // runtime once per chunk's worth (`length`) of decompressed bytes (yieldToRuntime).
      if (seen >= yieldAt) {
        yieldAt = seen + length;
        await yieldToRuntime();
      }
      const start = Math.max(0, offset - seen);
      seen += value.length;
      if (start >= value.length) continue;
      const take = Math.min(value.length - start, length - filled);
      out.set(value.subarray(start, start + take), filled);
      filled += take;
      if (filled === length) return { bytes: out, final: false };
    }
  } catch (err) {
    const message = badFileMessage(err);
    if (downloadFailed) throw new TargetError("transient", `reading ${f.key} failed: ${String(downloadFailed)}`);
    throw new TargetError("refused", `${f.key} is not a valid gzip file (${message})`);
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function readWindow(storage: SourceStorage, f: SourceFile, length: number, beat: Beat): Promise<{ bytes: Uint8Array; final: boolean }> {
  if (f.gzip) return gzipWindow(storage, f, f.position, length, beat);
  const len = Math.min(length, f.size - f.position);
  const bytes = len > 0 ? await storage.range(f.key, f.etag, f.position, len) : new Uint8Array(0);
  return { bytes, final: f.position + len >= f.size };
}

interface Parsed {
  items: unknown[];
  lines: number[];
  issues: RecordIssue[];
  consumed: number;
  nextLine: number;
  final: boolean;
  columns?: string[];
  source: "json" | "text";
}

type Outcome = Parsed | { fail: string };

/** Parses the next complete records of a text file, widening the window while it holds none. */
async function readText(storage: SourceStorage, f: SourceFile, model: ModelDef, chunk: { bytes: number; rows: number }, beat: Beat): Promise<Outcome> {
  let window = chunk.bytes;
  for (;;) {
    const { bytes, final } = await readWindow(storage, f, window, beat);
    const parsed = f.format === "csv" ? parseCsv(bytes, final, f, model, chunk.rows) : parseJson(bytes, final, f, chunk.rows);
    if ("fail" in parsed || parsed.consumed > 0 || final) return parsed;
    if (window >= MAX_RECORD_BYTES) {
      return { fail: `Line ${f.next_line}: no end of line within ${window} bytes; nothing after this line was read` };
    }
    window = Math.min(window * 2, MAX_RECORD_BYTES);
  }
}

function parseJson(bytes: Uint8Array, final: boolean, f: SourceFile, maxRecords: number): Parsed {
  const p = parseNdjsonChunk(bytes, { final, firstLine: f.next_line, maxRecords });
  return {
    items: p.records.map((r) => r.item),
    lines: p.records.map((r) => r.line),
    issues: p.errors,
    consumed: p.consumed,
    nextLine: p.nextLine,
    final: final && p.consumed === bytes.length,
    source: "json",
  };
}

function parseCsv(bytes: Uint8Array, final: boolean, f: SourceFile, model: ModelDef, maxRecords: number): Outcome {
  let columns = f.columns ? (JSON.parse(f.columns) as string[]) : null;
  let start = 0;
  let firstLine = f.next_line;
  let fresh: string[] | undefined;
  if (!columns) {
    const header = parseHeader(bytes, final);
    if (!header.ok) {
      // Too short to hold the header yet: let the caller widen the window.
      if (!final && header.message.startsWith("No complete header row")) return { items: [], lines: [], issues: [], consumed: 0, nextLine: 1, final: false, source: "text" };
      return { fail: `Line 1: ${header.message}` };
    }
    const check = checkHeader(model, header.columns);
    if (!check.ok) return { fail: `Line 1: ${check.message}` };
    columns = fresh = check.columns;
    start = header.end;
    firstLine = header.nextLine;
  }
  const body = bytes.subarray(start);
  const p = parseChunk(body, { final, firstLine, columns: columns.length, maxRecords, bom: false });
  const cols = columns;
  return {
    items: p.records.map((r) => recordToItem(cols, r.cells)),
    lines: p.records.map((r) => r.line),
    issues: p.errors,
    consumed: start + p.consumed,
    nextLine: p.nextLine,
    final: final && p.consumed === body.length,
    ...(fresh ? { columns: fresh } : {}),
    source: "text",
  };
}

/** Parquet values as the catalog's JSON types: BigInt to number, dates to `YYYY-MM-DD HH:MM:SS`. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return formatTimestamp(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

/**
 * Reads row group `position` of a Parquet file; columns are fetched by range, on demand, and the
 * link's lease is renewed before each range (a slow store must not let the sweep count the link's
 * worker as stopped, src/chain).
 */
async function readParquet(storage: SourceStorage, f: SourceFile, beat: Beat): Promise<Outcome> {
  const file = {
    byteLength: f.size,
    slice: async (start: number, end?: number) => {
      await beat();
      const bytes = await storage.range(f.key, f.etag, start, (end ?? f.size) - start);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file, { initialFetchSize: 64 * 1024 });
  } catch (err) {
    return { fail: `not a valid Parquet file: ${badFileMessage(err)}` };
  }
  const groups = metadata.row_groups;
  let rowStart = 0;
  for (let i = 0; i < f.position && i < groups.length; i++) rowStart += Number(groups[i]?.num_rows ?? 0);
  const group = groups[f.position];
  if (!group) return { items: [], lines: [], issues: [], consumed: 0, nextLine: f.next_line, final: true, source: "json" };
  const rowEnd = rowStart + Number(group.num_rows);
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd });
  } catch (err) {
    return { fail: `Rows ${rowStart + 1}-${rowEnd}: the row group could not be read: ${badFileMessage(err)}` };
  }
  const items = rows.map((r) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) o[k] = plain(v);
    return o;
  });
  return {
    items,
    lines: items.map((_, i) => rowStart + i + 1),
    issues: [],
    consumed: 1,
    nextLine: rowEnd + 1,
    final: f.position + 1 >= groups.length,
    source: "json",
  };
}

async function finishFile(s: Services, source: SourceRow, f: SourceFile, failed: string | null): Promise<void> {
  const done = await getSourceFile(s.db, f.tenant_id, f.id);
  if (!done) return;
  if (failed === null && done.rows_rejected === 0) return;
  await notify(s, source, failed === null ? "source.file.invalid" : "source.file.failed", {
    source_id: source.id,
    file_id: done.id,
    key: done.key,
    etag: done.etag,
    status: done.status,
    rows_accepted: done.rows_accepted,
    rows_rejected: done.rows_rejected,
    error: done.error,
  });
}

/** Stops the file at its checkpoint with a reason a person can act on, notifies, and ends the chain. */
async function fail(s: Services, source: SourceRow, f: SourceFile, message: string): Promise<StepOutcome> {
  if (await failSourceFile(s.db, f.tenant_id, f.id, f.position, message, s.clock.seconds())) await finishFile(s, source, f, message);
  await dropDecryptedCopy(s, f);
  return { failed: message };
}

/** Deletes the staged decrypted copy of an encrypted file once it is no longer read. */
async function dropDecryptedCopy(s: Services, f: SourceFile): Promise<void> {
  if (f.encrypted) await s.files.delete(stagedKey(f));
}

/**
 * The storage to read `f` from and the file as that storage holds it: the source itself, or, for
 * an encrypted file, its decrypted copy in R2 (made by the first link; src/ingest/sources/decrypt.ts).
 */
async function openFile(s: Services, f: SourceFile, cfg: SourceConfig): Promise<{ storage: SourceStorage; file: SourceFile }> {
  const storage = openStorage(s.env, cfg, { attempts: 3, now: () => s.clock.now() });
  if (!f.encrypted) return { storage, file: f };
  let size = f.decrypted_size;
  if (size === null) {
    if (!cfg.decryption_key) {
      throw new DecryptionError(`${f.key} is encrypted (.gpg/.pgp) and this source has no decryption_key; set the private key its sender encrypts to (docs/sources.md)`);
    }
    const key = await readDecryptionKey(cfg.decryption_key, cfg.decryption_passphrase);
    size = await decryptToStaging(s.files, storage, f, key);
    // Of two runs of this link, one records the size; the other wrote the same bytes.
    await recordDecryptedCopy(s.db, f.tenant_id, f.id, size, s.clock.seconds());
  }
  return { storage: stagedStorage(s.files, f), file: { ...f, size } };
}

/** Where the chain goes when the file is not where this link expected it. */
const resync = (f: SourceFile | undefined): StepOutcome =>
  !f || f.status === "completed" || f.status === "failed" ? { done: true } : { next: f.position };

/**
 * One link of a file's chain: read the chunk at the checkpoint, validate, write the good rows
 * once, record the checkpoint and the line errors (compare-and-set), and say where the next
 * link starts. Idempotent at its position (see the top of this file).
 */
export async function sourceFileStep({ services: s, chain, heartbeat }: StepContext): Promise<StepOutcome> {
  const f = await getSourceFile(s.db, chain.tenant_id, chain.subject_id);
  // Done, failed, gone, or its checkpoint already recorded by a run whose chain did not move on.
  if (!f || f.status === "completed" || f.status === "failed" || f.position !== chain.position) return resync(f);
  const source = await getSource(s.db, f.tenant_id, f.source_id);
  if (!source) return { done: true }; // the source was deleted, its files with it
  const catalogModel = getModel(f.model);
  if (!catalogModel) return fail(s, source, f, `The model ${f.model} is no longer in the catalog`);
  const model = await tenantModel(s, f.tenant_id, catalogModel);
  const beat = throttled(s, heartbeat);

  let out: Outcome;
  try {
    const { storage, file } = await openFile(s, f, await sourceConfig(s, source));
    out = file.format === "parquet" ? await readParquet(storage, file, beat) : await readText(storage, file, model, sourceChunkSettings(s.env), beat);
  } catch (err) {
    if (err instanceof DecryptionError) return fail(s, source, f, err.message);
    // Transient failures and auth errors are retried by the chain (then given up, see giveUpSourceFile);
    // a file that changed or vanished will not come back.
    if (err instanceof TargetError && (err.kind === "refused" || err.kind === "not_found")) {
      return fail(s, source, f, `${err.message}; a rewritten file is ingested again as a new version`);
    }
    throw err;
  }
  if ("fail" in out) return fail(s, source, f, out.fail);

  const v = validatePartial(model, out.items, out.lines, { source: out.source, now: new Date(s.clock.now()) });
  const errors = [...out.issues, ...v.errors].sort((a, b) => a.line - b.line);
  // Other requests get the runtime once per chunk, between its reading and validation and its
  // write, the link's two long pieces of work (yieldToRuntime).
  await yieldToRuntime();
  await insertRowsOnce(s, f.tenant_id, model, v.rows, `source chunk ${f.id} ${f.position}`, "source-chunk");

  const to = f.position + out.consumed;
  const won = await recordFileChunk(s.db, f.tenant_id, f.id, {
    from: f.position,
    to,
    nextLine: out.nextLine,
    accepted: v.rows.length,
    rejected: out.issues.length + v.rejected,
    errors: errors.slice(0, Math.max(0, MAX_STORED_ERRORS - f.rows_rejected)).map((e) => ({ ...e, message: e.message.slice(0, 500) })),
    final: out.final,
    columns: out.columns,
    now: s.clock.seconds(),
  });
  if (!won) return resync(await getSourceFile(s.db, f.tenant_id, f.id));
  if (!out.final) return { next: to };
  await dropDecryptedCopy(s, f);
  await finishFile(s, source, f, null);
  return { done: true };
}

/**
 * The chain gave up (a link kept failing, or its message was dead-lettered): the file stops
 * at its checkpoint, marked failed, with the rows before it kept.
 */
export async function giveUpSourceFile(s: Services, chain: ChainRow, reason: string): Promise<void> {
  const f = await getSourceFile(s.db, chain.tenant_id, chain.subject_id);
  if (!f) return;
  const source = await getSource(s.db, f.tenant_id, f.source_id);
  if (!source) return;
  const where = f.format === "parquet" ? `row group ${f.position + 1} (rows from ${f.next_line})` : `line ${f.next_line}`;
  await fail(s, source, f, `Reading kept failing at ${where} and was given up after its retries (${reason}); the rows before it were ingested.`);
}

/** The `source_file` chain job (registered in src/jobs/index.ts). */
export const sourceFileJob: ChainJob = { step: sourceFileStep, giveUp: giveUpSourceFile };
