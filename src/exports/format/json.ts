import type { Formatter, FormatterState, Row } from "../types";
import { utf8 } from "./text";

const EMPTY = new Uint8Array(0);

/**
 * How values are written: `native` keeps numbers as JSON numbers; `string` writes every value
 * but null as a JSON string (`"value": "10000"`), the shape of the automated exports reference's
 * payloads. Non-finite numbers are null either way.
 */
export type JsonValues = "native" | "string";

/** Writes one row as a JSON object with keys in column order. JSON.stringify escapes lone surrogates. */
function rowWriter(columns: string[], values: JsonValues): (row: Row) => string {
  const keys = columns.map((c, i) => `${i ? "," : "{"}${JSON.stringify(c)}:`);
  const number = values === "string" ? (v: number) => `"${v}"` : (v: number) => String(v);
  return (row) => {
    let s = "";
    for (let i = 0; i < columns.length; i++) {
      const v = row[columns[i] as string] ?? null;
      s += keys[i] + (typeof v === "number" ? (Number.isFinite(v) ? number(v) : "null") : JSON.stringify(v));
    }
    return columns.length ? `${s}}` : "{}";
  };
}

/**
 * `{"<export name>":[{...},{...}]}`, the shape of the automated exports API, one row per line.
 * State: `rows` written so far (a comma goes before every row but the first).
 */
export function jsonFormatter(name: string, columns: string[], values: JsonValues = "native"): Formatter {
  const rowJson = rowWriter(columns, values);
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
      for (const row of rows) out += `${n++ ? "," : ""}\n${rowJson(row)}`;
      state.rows = n;
      return utf8(out);
    },
    finish(state: FormatterState) {
      return utf8(`${Number(state.rows ?? 0) ? "\n" : ""}]}\n`);
    },
  };
}

/** Newline-delimited JSON: one object per line, each line ending in LF. https://github.com/ndjson/ndjson-spec */
export function ndjsonFormatter(columns: string[], values: JsonValues = "native"): Formatter {
  const rowJson = rowWriter(columns, values);
  return {
    contentType: "application/x-ndjson; charset=utf-8",
    extension: "ndjson",
    start: () => EMPTY,
    rows(rows: Row[]) {
      let out = "";
      for (const row of rows) out += `${rowJson(row)}\n`;
      return utf8(out);
    },
    finish: () => EMPTY,
  };
}
