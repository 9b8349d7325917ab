/**
 * Byte-exact NDJSON chunk parsing: says where the last complete line of a byte range ends so
 * the next range starts exactly there, and numbers every line. Lines end with LF (a CR before
 * it is dropped); blank lines are skipped.
 */

const LF = 0x0a;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export interface JsonRecord {
  line: number;
  item: unknown;
}

export interface NdjsonChunk {
  records: JsonRecord[];
  errors: { line: number; field: string; message: string }[];
  /** bytes from the buffer's start to the end of the last line handled; 0 = no complete line */
  consumed: number;
  nextLine: number;
}

/** Parses the complete lines of `buf` (`final`: it runs to the end of the file). */
export function parseNdjsonChunk(buf: Uint8Array, opts: { final: boolean; firstLine: number; maxRecords: number }): NdjsonChunk {
  const limit = opts.final ? buf.length : buf.lastIndexOf(LF) + 1;
  const records: JsonRecord[] = [];
  const errors: NdjsonChunk["errors"] = [];
  let pos = 0;
  let line = opts.firstLine;
  while (pos < limit && records.length + errors.length < opts.maxRecords) {
    let end = buf.indexOf(LF, pos);
    if (end === -1 || end >= limit) end = limit;
    let stop = end;
    if (stop > pos && buf[stop - 1] === 0x0d) stop--;
    const bytes = buf.subarray(pos, stop);
    pos = Math.min(end + 1, limit);
    const at = line++;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      errors.push({ line: at, field: "", message: "the line is not valid UTF-8 (save the file as UTF-8)" });
      continue;
    }
    if (!text.trim()) continue;
    try {
      records.push({ line: at, item: JSON.parse(text) });
    } catch (err) {
      errors.push({ line: at, field: "", message: `the line is not valid JSON: ${(err as Error).message}` });
    }
  }
  return { records, errors, consumed: pos, nextLine: line };
}
