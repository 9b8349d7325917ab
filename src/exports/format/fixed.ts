import type { Formatter, FormatterState, Row } from "../types";
import { numberText } from "./delimited";
import { utf8 } from "./text";

export interface FixedWidthOptions {
  /** Width of each column in characters (Unicode code points), by output column name. */
  widths: Record<string, number>;
  newline: "\n" | "\r\n";
  header: boolean;
}

/**
 * `s` cut or padded with spaces (on the right) to exactly `width` code points. A code point is
 * never split, so a surrogate pair stays whole; a combining mark counts as its own character
 * (the same rule as the ingestion string limit), so a reader that counts code points finds
 * every column where it belongs.
 */
export function fitWidth(s: string, width: number): string {
  let n = 0;
  let i = 0;
  while (i < s.length && n < width) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    n++;
  }
  return (i < s.length ? s.slice(0, i) : s) + " ".repeat(width - n);
}

/** A line break or tab inside a value would move every later column: written as a space. */
const BREAKS = /[\r\n\t\v\f\u0085\u2028\u2029]/g;

/**
 * txt: fixed-width text, one line per row, every column exactly its width (left-aligned,
 * padded with spaces, longer values cut), no separator between columns. null is blank.
 * Widths are decided before the first row (from the definition and the catalog, see
 * txtWidthsFor), so the file streams chunk by chunk like csv: no state between calls.
 */
export function fixedWidthFormatter(columns: string[], o: FixedWidthOptions): Formatter {
  const widths = columns.map((c) => o.widths[c] ?? 255);
  const line = (cells: (string | number | null)[]) => {
    let out = "";
    for (let i = 0; i < widths.length; i++) {
      const v = cells[i] ?? null;
      const s = v === null ? "" : typeof v === "number" ? numberText(v) : v.replace(BREAKS, " ");
      out += fitWidth(s, widths[i] as number);
    }
    return out + o.newline;
  };
  return {
    contentType: "text/plain; charset=utf-8",
    extension: "txt",
    start(_state: FormatterState) {
      return utf8(o.header ? line(columns) : "");
    },
    rows(rows: Row[], _state: FormatterState) {
      let out = "";
      for (const row of rows) out += line(columns.map((c) => row[c] ?? null));
      return utf8(out);
    },
    finish(_state: FormatterState) {
      return new Uint8Array(0);
    },
  };
}
