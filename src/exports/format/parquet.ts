import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { Formatter, FormatterState, Row } from "../types";
import { FormatError, numberText } from "./delimited";

/** Parquet column types the formatter writes; any other catalog type is written as STRING. */
export type ColumnType = "string" | "integer" | "float" | "boolean";

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

type SchemaElement = ParquetWriter["schema"][number];
type RowGroup = ParquetWriter["row_groups"][number];

interface ParquetState extends FormatterState {
  /** Bytes of the file written so far: the offset the next row group starts at. */
  offset: number;
  rows: number;
  /** Footer metadata of every row group written, JSON-encoded with {@link toJsonSafe}. */
  groups: unknown[];
}

/**
 * Apache Parquet, one row group per `rows()` call, so only that call's rows are in memory.
 * https://parquet.apache.org/docs/file-format/
 *
 * The footer (FileMetaData) lists every row group with its column chunk offsets, so the
 * metadata of each written row group is kept in `state.groups` and the footer is written
 * by `finish()`. Column chunks are SNAPPY-compressed, with statistics, without page indexes
 * or bloom filters (those are written after all row groups and would have to live in state too).
 *
 * Row group boundaries follow the `rows()` calls: the same rows split differently give a
 * different (equally valid) file; the same rows from the same state give the same bytes.
 */
export function parquetFormatter(columns: string[], types: Partial<Record<string, ColumnType>> = {}): Formatter {
  const typeOf = (c: string): ColumnType => types[c] ?? "string";
  const schema: SchemaElement[] = [
    { name: "root", num_children: columns.length },
    ...columns.map((name): SchemaElement => {
      switch (typeOf(name)) {
        case "integer":
          return { name, type: "INT64", repetition_type: "OPTIONAL" };
        case "float":
          return { name, type: "DOUBLE", repetition_type: "OPTIONAL" };
        case "boolean":
          return { name, type: "BOOLEAN", repetition_type: "OPTIONAL" };
        default:
          return { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" };
      }
    }),
  ];

  /** A writer whose byte offsets continue the file where `offset` says it stands. */
  const writerAt = (offset: number) => {
    const pw = new ParquetWriter({ writer: new ByteWriter(), schema, createdBy: "ferry" });
    const w = new ByteWriter(64 * 1024);
    w.offset = offset;
    pw.writer = w;
    return { pw, w };
  };

  const convert = (c: string, v: string | number | null): unknown => {
    if (v === null) return null;
    const t = typeOf(c);
    if (t === "string") return typeof v === "number" ? numberText(v) : v;
    const n = typeof v === "number" ? v : v.trim() === "" ? Number.NaN : Number(v);
    if (t === "float" && !Number.isNaN(n)) return n;
    if (t === "integer" && Number.isSafeInteger(n)) return BigInt(n);
    if (t === "boolean" && (n === 0 || n === 1)) return n === 1;
    throw new FormatError(`column ${JSON.stringify(c)} is ${t} in the parquet schema but holds ${JSON.stringify(v)}`);
  };

  return {
    contentType: "application/vnd.apache.parquet",
    extension: "parquet",
    start(state: FormatterState) {
      Object.assign(state, { offset: MAGIC.length, rows: 0, groups: [] } satisfies ParquetState);
      return MAGIC.slice();
    },
    rows(rows: Row[], state: FormatterState) {
      const s = state as ParquetState;
      if (rows.length === 0) return new Uint8Array(0);
      const { pw, w } = writerAt(s.offset);
      void pw.write({
        columnData: columns.map((name) => ({
          name,
          data: rows.map((r) => convert(name, r[name] ?? null)),
          offsetIndex: false,
        })) as Parameters<ParquetWriter["write"]>[0]["columnData"],
        rowGroupSize: rows.length,
      });
      const bytes = w.getBytes().slice();
      s.groups.push(toJsonSafe(pw.row_groups[0]));
      s.offset += bytes.length;
      s.rows += rows.length;
      return bytes;
    },
    finish(state: FormatterState) {
      const s = state as ParquetState;
      const { pw, w } = writerAt(s.offset);
      pw.row_groups = s.groups.map((g) => fromJsonSafe(g) as RowGroup);
      pw.num_rows = BigInt(s.rows);
      void pw.finish();
      return w.getBytes().slice();
    },
  };
}

/** Makes footer metadata JSON-safe: bigint, bytes and non-finite or negative-zero numbers are tagged. */
export function toJsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0) ? v : { $number: Object.is(v, -0) ? "-0" : String(v) };
  if (v instanceof Uint8Array) return { $bytes: Array.from(v) };
  if (Array.isArray(v)) return v.map(toJsonSafe);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJsonSafe(x);
    return out;
  }
  return v;
}

export function fromJsonSafe(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJsonSafe);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.$bigint === "string") return BigInt(o.$bigint);
    if (typeof o.$number === "string") return Number(o.$number);
    if (Array.isArray(o.$bytes)) return new Uint8Array(o.$bytes as number[]);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = fromJsonSafe(x);
    return out;
  }
  return v;
}
