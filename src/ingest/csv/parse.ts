import { CsvError, parse } from "csv-parse/sync";

/**
 * Byte-exact CSV chunk parsing on top of csv-parse (RFC 4180: quoted delimiters, quoted
 * newlines, doubled quotes). Files are read from R2 in byte ranges; this module says where the
 * last complete record of a range ends so the next range starts exactly there, and gives every
 * record the line number it starts on. Records end with LF or CRLF (bare-CR files are not supported).
 */

const LF = 0x0a;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export interface CsvRecord {
  /** 1-based line of the file the record starts on */
  line: number;
  cells: string[];
}

export interface RecordError {
  line: number;
  /** the column the error is about, "" for the whole record */
  field: string;
  message: string;
}

export interface ChunkResult {
  records: CsvRecord[];
  errors: RecordError[];
  /** bytes from the start of the buffer to the end of the last record handled; 0 = no complete record in the buffer */
  consumed: number;
  /** line number of the first record after `consumed` */
  nextLine: number;
}

export interface ChunkOptions {
  /** the buffer runs to the end of the file: a last record without a newline is complete */
  final: boolean;
  /** line number of the buffer's first byte */
  firstLine: number;
  /** number of columns of the header; records with another count are rejected */
  columns: number;
  /** stop after this many records (accepted or rejected) */
  maxRecords: number;
  /** strip a UTF-8 byte order mark at the buffer's start (only at file offset 0) */
  bom?: boolean;
}

const MESSAGES: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: "a quoted field is not closed before the end of the file",
  CSV_INVALID_CLOSING_QUOTE: "a closing quote must be followed by a comma or the end of the line (write a quote inside a quoted field as \"\")",
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: "a closing quote must be followed by a comma or the end of the line",
  CSV_INVALID_OPENING_QUOTE: "a field that contains a quote must be enclosed in quotes, with the inner quote doubled (\"\")",
  CSV_MAX_RECORD_SIZE: "the record is too large",
};

function describe(err: unknown): string {
  if (err instanceof CsvError) return MESSAGES[err.code] ?? `the record is not valid CSV (${err.code})`;
  return "the record is not valid CSV";
}

function countLf(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (buf[i] === LF) n++;
  return n;
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

interface Raw {
  cells: string[];
  /** end of the record (after its newline), relative to the parsed slice */
  end: number;
}

/** Runs csv-parse over `slice` (which ends at a record boundary or the end of the file). */
function parseSlice(slice: Uint8Array, bom: boolean): { raws: Raw[]; error: unknown } {
  const raws: Raw[] = [];
  let error: unknown;
  try {
    parse(Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength), {
      bom,
      relax_column_count: true,
      record_delimiter: ["\r\n", "\n"],
      on_record: (record: string[], ctx: { bytes: number }) => {
        raws.push({ cells: record, end: ctx.bytes });
        return null;
      },
    });
  } catch (err) {
    error = err;
  }
  return { raws, error };
}

/**
 * Parses the complete records of `buf`. Bytes after the last newline of a non-final buffer are
 * never part of a complete record, so they are left for the next range; a quoted field still
 * open at the end of a non-final buffer means the record continues in the next range.
 * A record csv-parse refuses is rejected with its line number and parsing resumes on the next line.
 */
export function parseChunk(buf: Uint8Array, opts: ChunkOptions): ChunkResult {
  const limit = opts.final ? buf.length : buf.lastIndexOf(LF) + 1;
  const records: CsvRecord[] = [];
  const errors: RecordError[] = [];
  let pos = 0;
  let line = opts.firstLine;
  const handled = () => records.length + errors.length;

  while (pos < limit && handled() < opts.maxRecords) {
    const slice = buf.subarray(pos, limit);
    const { raws, error } = parseSlice(slice, !!opts.bom && pos === 0);
    let start = 0;
    for (const raw of raws) {
      if (handled() >= opts.maxRecords) break;
      const recLine = line;
      line += countLf(slice, start, raw.end);
      const bytes = slice.subarray(start, raw.end);
      start = raw.end;
      if (raw.cells.length === 1 && raw.cells[0] === "") continue; // blank line
      if (!isValidUtf8(bytes)) {
        errors.push({ line: recLine, field: "", message: "the record is not valid UTF-8 (save the file as UTF-8)" });
      } else if (raw.cells.length !== opts.columns) {
        errors.push({
          line: recLine,
          field: "",
          message: `the record has ${raw.cells.length} field${raw.cells.length === 1 ? "" : "s"}, the header has ${opts.columns}`,
        });
      } else {
        records.push({ line: recLine, cells: raw.cells });
      }
    }
    pos += start;
    if (!error || handled() >= opts.maxRecords) break;
    if (error instanceof CsvError && error.code === "CSV_QUOTE_NOT_CLOSED" && !opts.final) break; // continues in the next range
    // Reject the record that failed and go on from the next line.
    const nl = buf.indexOf(LF, pos);
    const skipTo = nl === -1 || nl >= limit ? limit : nl + 1;
    errors.push({ line, field: "", message: describe(error) });
    line += countLf(buf, pos, skipTo);
    pos = skipTo;
  }
  return { records, errors, consumed: pos, nextLine: line };
}

export type HeaderResult =
  | { ok: true; columns: string[]; end: number; nextLine: number }
  | { ok: false; message: string };

/** Reads the header row from the first bytes of the file (`final`: they are the whole file). */
export function parseHeader(buf: Uint8Array, final: boolean): HeaderResult {
  const bomLen = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  if (final && buf.subarray(bomLen).every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === LF)) {
    return { ok: false, message: "The file is empty: expected a header row and at least one data row" };
  }
  const limit = final ? buf.length : buf.lastIndexOf(LF) + 1;
  const { raws, error } = parseSlice(buf.subarray(0, limit), true);
  const header = raws.find((r) => !(r.cells.length === 1 && r.cells[0] === ""));
  if (!header) {
    if (error && !(error instanceof CsvError && error.code === "CSV_QUOTE_NOT_CLOSED" && !final)) {
      return { ok: false, message: `The header row is not valid CSV: ${describe(error)}` };
    }
    return { ok: false, message: `No complete header row in the first ${buf.length} bytes of the file` };
  }
  if (!isValidUtf8(buf.subarray(0, header.end))) {
    return { ok: false, message: "The header row is not valid UTF-8 (save the file as UTF-8)" };
  }
  return { ok: true, columns: header.cells.map((c) => c.trim()), end: header.end, nextLine: 1 + countLf(buf, 0, header.end) };
}
