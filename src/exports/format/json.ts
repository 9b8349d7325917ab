import type { Formatter, FormatterState, Row } from "../types";
import { utf8 } from "./text";

const EMPTY = new Uint8Array(0);

/** One row as a JSON object with keys in column order. JSON.stringify escapes lone surrogates. */
function rowJson(columns: string[], row: Row): string {
  let s = "{";
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i] as string;
    const v = row[c] ?? null;
    s += `${i ? "," : ""}${JSON.stringify(c)}:${typeof v === "number" && !Number.isFinite(v) ? "null" : JSON.stringify(v)}`;
  }
  return `${s}}`;
}

/**
 * `{"<export name>":[{...},{...}]}`, the shape of the automated exports API, one row per line.
 * State: `rows` written so far (a comma goes before every row but the first).
 */
export function jsonFormatter(name: string, columns: string[]): Formatter {
  return {
    contentType: "application/json; charset=utf-8",
    extension: "json",
    start(state: FormatterState) {
      state.rows = 0;
      return utf8(`{${JSON.stringify(name)}:[`);
    },
    rows(rows: Row[], state: FormatterState) {
      let n = Number(state.rows ?? 0);
      let out = "";
      for (const row of rows) out += `${n++ ? "," : ""}\n${rowJson(columns, row)}`;
      state.rows = n;
      return utf8(out);
    },
    finish(state: FormatterState) {
      return utf8(`${Number(state.rows ?? 0) ? "\n" : ""}]}\n`);
    },
  };
}

/** Newline-delimited JSON: one object per line, each line ending in LF. https://github.com/ndjson/ndjson-spec */
export function ndjsonFormatter(columns: string[]): Formatter {
  return {
    contentType: "application/x-ndjson; charset=utf-8",
    extension: "ndjson",
    start: () => EMPTY,
    rows(rows: Row[]) {
      let out = "";
      for (const row of rows) out += `${rowJson(columns, row)}\n`;
      return utf8(out);
    },
    finish: () => EMPTY,
  };
}
