import type { Formatter, FormatterState, Row } from "../types";
import { utf8 } from "./text";

export interface DelimitedOptions {
  type: "csv" | "psv" | "tsv";
  delimiter: string;
  /** One character, or "" for none (then a cell that would need quoting is an error). */
  enclosure: string;
  newline: "\n" | "\r\n";
  header: boolean;
  formulaProtection: boolean;
  /** Start with a UTF-8 byte order mark. */
  bom: boolean;
}

const CONTENT_TYPES = {
  csv: "text/csv; charset=utf-8",
  psv: "text/plain; charset=utf-8",
  tsv: "text/tab-separated-values; charset=utf-8",
} as const;

/** First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV Injection"): = + - @ tab CR. */
const FORMULA_FIRST = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d]);
/** A plain decimal number such as `-12.5` or `+3e4` is data, not a formula, and stays as is. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export class FormatError extends Error {
  override name = "FormatError";
}

/**
 * csv, psv and tsv: RFC 4180 quoting with a configurable delimiter, enclosure and newline.
 * https://www.rfc-editor.org/rfc/rfc4180#section-2
 *
 * A cell is enclosed when it contains the delimiter, the enclosure, CR or LF, and the enclosure
 * inside it is doubled. null is written as an empty cell and "" as an enclosed empty cell
 * (`""`), so the two stay distinguishable. With formula protection on, a text cell that starts
 * with = + - @ tab or CR (and is not a plain number) gets a leading apostrophe.
 * https://owasp.org/www-community/attacks/CSV_Injection
 *
 * Stateless between calls: every row is written on its own, so no state is kept.
 */
export function delimitedFormatter(columns: string[], o: DelimitedOptions): Formatter {
  const special = [o.delimiter, o.enclosure, "\r", "\n"].filter((x) => x.length === 1);
  const classChars = special.map((c) => c.replace(/[\\\]^-]/g, "\\$&")).join("");
  const singleChars = new RegExp(`[${classChars}]`);
  const needsEnclosure =
    o.delimiter.length === 1 ? (s: string) => singleChars.test(s) : (s: string) => singleChars.test(s) || s.includes(o.delimiter);
  const doubled = o.enclosure + o.enclosure;
  const enclosureRe = o.enclosure ? new RegExp(o.enclosure.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g") : null;

  const cell = (v: string | number | null, isHeader: boolean): string => {
    if (v === null) return "";
    if (typeof v === "number") return numberText(v);
    let s = v;
    if (s === "") return isHeader ? "" : doubled;
    if (o.formulaProtection && FORMULA_FIRST.has(s.charCodeAt(0)) && !PLAIN_NUMBER.test(s)) s = `'${s}`;
    if (!needsEnclosure(s)) return s;
    if (!enclosureRe) {
      throw new FormatError(
        `a value contains the delimiter or a line break and the export has no enclosure character; set format.enclosure (for example '"') to write it`,
      );
    }
    return o.enclosure + s.replace(enclosureRe, doubled) + o.enclosure;
  };

  const lines = (rows: Row[]) => {
    let out = "";
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++) {
        if (i) out += o.delimiter;
        out += cell(row[columns[i] as string] ?? null, false);
      }
      out += o.newline;
    }
    return out;
  };

  return {
    contentType: CONTENT_TYPES[o.type],
    extension: o.type,
    start(_state: FormatterState) {
      const header = o.header ? columns.map((c) => cell(c, true)).join(o.delimiter) + o.newline : "";
      return utf8((o.bom ? "\uFEFF" : "") + header);
    },
    rows(rows: Row[], _state: FormatterState) {
      return utf8(lines(rows));
    },
    finish(_state: FormatterState) {
      return new Uint8Array(0);
    },
  };
}

/** Numbers as JavaScript prints them (shortest round-trip form); non-finite values as empty. */
export function numberText(n: number): string {
  return Number.isFinite(n) ? String(n) : "";
}
