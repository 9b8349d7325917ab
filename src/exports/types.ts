/**
 * Contracts between the parts of the export engine, so each part can be built and
 * tested on its own:
 *
 *   definition (routes/exports, exports/definition.ts)  — the stored export definition
 *   compiler   (exports/compiler.ts)   — definition + tenant + cursor -> one parameterized chunk query
 *   formatter  (exports/format/*)      — rows -> bytes, resumable across queue messages
 *   compressor (exports/compress/*)    — bytes -> bytes, resumable across queue messages
 *   step       (exports/step.ts)       — pure: rows + state -> file bytes + state
 *   runner     (src/runs/job.ts)       — the export_run chain: chunk, part upload, checkpoint
 *
 * "Resumable" means: all state that must survive between two queue messages is a
 * JSON-serializable value that the runner stores in D1 with the checkpoint, and
 * feeding the same rows from the same state always yields the same bytes.
 */

/** A row as read from D1: output column name (the field's `to`) -> value. */
export type Row = Record<string, string | number | null>;

export interface ChunkQuery {
  sql: string;
  params: (string | number | null)[];
  /** Output column names, in order (headers). */
  columns: string[];
}

/** Where a chunk chain stands; opaque to everything but the compiler. */
export type Cursor = { after: (string | number | null)[] } | null;

export interface ExportCompiler {
  /**
   * The query for the next `limit` rows after `cursor` (keyset pagination), always
   * scoped to `tenantId`. Returns also how to derive the next cursor from the last row.
   */
  chunk(cursor: Cursor, limit: number): ChunkQuery;
  /**
   * How many rows the chunks yield in all (one row `{ n }`), for a run's progress: the same
   * tenant, watermark and filters with no output columns, order or limit, so SQLite answers
   * it from an index where it can instead of building every row.
   */
  count(): ChunkQuery;
  nextCursor(lastRow: Row): Cursor;
  /** Applies defaults and replace maps, in SQL or here; returns the rows as written. */
  columns: string[];
}

export interface FormatterState {
  [k: string]: unknown;
}

export interface Formatter {
  readonly contentType: string;
  /** File extension without dot: csv, psv, tsv, json, ndjson, xml, parquet, txt. */
  readonly extension: string;
  /** Bytes before the first row (header, `{"name":[`, `<?xml ...>`, parquet magic). */
  start(state: FormatterState): Uint8Array;
  /** Bytes for these rows; updates `state` in place (e.g. "a row was already written"). */
  rows(rows: Row[], state: FormatterState): Uint8Array;
  /** Bytes after the last row (closing brackets, parquet footer). */
  finish(state: FormatterState): Uint8Array;
}

export interface Compressor {
  /** Appended to the file name: "gz", "zip", or "" for none. */
  readonly extension: string;
  readonly contentType: string | null;
  start(state: FormatterState): Uint8Array;
  /** Compresses `data`; the output of successive calls concatenates into one valid stream. */
  push(data: Uint8Array, state: FormatterState): Uint8Array;
  finish(state: FormatterState): Uint8Array;
}
