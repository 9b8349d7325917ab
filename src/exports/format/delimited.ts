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

/** First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;
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
  const needsEnclosure = (s: string) =>
    s.includes(o.delimiter) || (o.enclosure !== "" && s.includes(o.enclosure)) || s.includes("\n") || s.includes("\r");
  const doubled = o.enclosure + o.enclosure;

  const cell = (v: string | number | null, isHeader: boolean): string => {
    if (v === null) return "";
    if (typeof v === "number") return numberText(v);
    let s = v;
    if (o.formulaProtection && FORMULA_START.test(s) && !PLAIN_NUMBER.test(s)) s = `'${s}`;
    if (s === "") return isHeader ? "" : doubled;
    if (!needsEnclosure(s)) return s;
    if (o.enclosure === "") {
      throw new FormatError(
        `a value contains the delimiter or a line break and the export has no enclosure character; set format.enclosure (for example '"') to write it`,
      );
    }
    return o.enclosure + s.split(o.enclosure).join(doubled) + o.enclosure;
  };

  const line = (values: (string | number | null)[], isHeader: boolean) =>
    values.map((v) => cell(v, isHeader)).join(o.delimiter) + o.newline;

  return {
    contentType: CONTENT_TYPES[o.type],
    extension: o.type,
    start(_state: FormatterState) {
      return utf8((o.bom ? "\uFEFF" : "") + (o.header ? line(columns, true) : ""));
    },
    rows(rows: Row[], _state: FormatterState) {
      let out = "";
      for (const row of rows) out += line(columns.map((c) => row[c] ?? null), false);
      return utf8(out);
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
