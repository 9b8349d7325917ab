import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { Formatter, FormatterState, Row } from "../types";
import { FormatError, numberText } from "./delimited";
import type { ColumnType } from "./column-types";
import { PARQUET_CONTENT_TYPE } from "./text-formats";

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

type SchemaElement = ParquetWriter["schema"][number];
type RowGroup = ParquetWriter["row_groups"][number];

interface ParquetState extends FormatterState {
  /** Bytes of the file written so far: the offset the next row group starts at. */
  offset: number;
  rows: number;
  /** Footer metadata of every row group written, packed by {@link packGroup}. */
  groups: unknown[];
}

/**
 * Apache Parquet, one row group per `rows()` call, so only that call's rows are in memory
 * (a Worker has 128 MB: https://developers.cloudflare.com/workers/platform/limits/#memory).
 * https://parquet.apache.org/docs/file-format/
 *
 * The footer (FileMetaData) lists every row group with its column chunk offsets, so the
 * metadata of each written row group is kept in `state.groups` and the footer is written
 * by `finish()`. Column chunks are SNAPPY-compressed, without page indexes or bloom filters
 * (those are written after all row groups and would have to live in state too); numeric and
 * boolean columns carry min/max/null-count statistics, text columns none (their bounds would
 * have to be kept in state).
 *
 * The state is stored in a D1 row with the checkpoint, so it is kept small: row group metadata
 * is packed positionally and text columns carry no min/max (a D1 row or string holds at most
 * 2 MB: https://developers.cloudflare.com/d1/platform/limits/).
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
    contentType: PARQUET_CONTENT_TYPE,
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
          // min/max of text could be long and would sit in state until finish(); numbers are small
          statistics: typeOf(name) !== "string",
        })) as Parameters<ParquetWriter["write"]>[0]["columnData"],
        rowGroupSize: rows.length,
      });
      const bytes = w.getBytes().slice();
      s.groups.push(packGroup(pw.row_groups[0] as RowGroup));
      s.offset += bytes.length;
      s.rows += rows.length;
      return bytes;
    },
    finish(state: FormatterState) {
      const s = state as ParquetState;
      const { pw, w } = writerAt(s.offset);
      pw.row_groups = s.groups.map((g) => unpackGroup(g as unknown[], schema));
      pw.num_rows = BigInt(s.rows);
      void pw.finish();
      return w.getBytes().slice();
    },
  };
}

type ColumnChunk = RowGroup["columns"][number];
/** hyparquet's type lacks nan_count, which hyparquet-writer computes for float columns and writes. */
type Statistics = NonNullable<NonNullable<ColumnChunk["meta_data"]>["statistics"]> & { nan_count?: bigint };

/** A statistics bound as JSON: bigint and -0 / non-finite numbers are tagged. */
function boundToJson(v: unknown): unknown {
  if (typeof v === "bigint") return { n: v.toString() };
  if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return { f: Object.is(v, -0) ? "-0" : String(v) };
  return v ?? null;
}

function boundFromJson(v: unknown): unknown {
  if (v && typeof v === "object") {
    const o = v as { n?: string; f?: string };
    return o.n !== undefined ? BigInt(o.n) : Number(o.f);
  }
  return v ?? undefined;
}

const big = (v: bigint | undefined) => (v === undefined ? null : Number(v));
const bigBack = (v: unknown) => (v === null || v === undefined ? undefined : BigInt(v as number));

/**
 * A row group's footer metadata, positional and without what the schema already says
 * (type, path, codec), so `state.groups` grows by a few dozen bytes per column per rows() call.
 */
export function packGroup(g: RowGroup): unknown[] {
  return [
    big(g.num_rows),
    big(g.total_byte_size),
    big(g.total_compressed_size),
    g.columns.map((c) => {
      const m = c.meta_data;
      if (!m) throw new Error("parquet column chunk without metadata");
      const st = m.statistics as Statistics | undefined;
      return [
        big(c.file_offset),
        big(m.num_values),
        big(m.total_compressed_size),
        big(m.total_uncompressed_size),
        big(m.data_page_offset),
        big(m.dictionary_page_offset),
        m.encodings,
        m.encoding_stats?.map((e) => [e.page_type, e.encoding, e.count]) ?? null,
        st ? [boundToJson(st.min_value), boundToJson(st.max_value), big(st.null_count), big(st.nan_count)] : null,
      ];
    }),
  ];
}

export function unpackGroup(p: unknown[], schema: SchemaElement[]): RowGroup {
  const [numRows, byteSize, compressedSize, cols] = p as [number, number, number, unknown[][]];
  return {
    num_rows: BigInt(numRows),
    total_byte_size: BigInt(byteSize),
    total_compressed_size: bigBack(compressedSize),
    columns: cols.map((c, i) => {
      const [fileOffset, numValues, compressed, uncompressed, dataOffset, dictOffset, encodings, encStats, stats] = c as [
        number, number, number, number, number, number | null, string[], [string, string, number][] | null,
        [unknown, unknown, number | null, number | null] | null,
      ];
      const element = schema[i + 1] as SchemaElement;
      const statistics = stats
        ? ({
            min_value: boundFromJson(stats[0]),
            max_value: boundFromJson(stats[1]),
            null_count: bigBack(stats[2]),
            nan_count: bigBack(stats[3]),
          } as Statistics)
        : undefined;
      return {
        file_offset: BigInt(fileOffset),
        meta_data: {
          type: element.type,
          encodings,
          path_in_schema: [element.name],
          codec: "SNAPPY",
          num_values: BigInt(numValues),
          total_compressed_size: BigInt(compressed),
          total_uncompressed_size: BigInt(uncompressed),
          data_page_offset: BigInt(dataOffset),
          dictionary_page_offset: bigBack(dictOffset),
          statistics,
          encoding_stats: encStats?.map(([page_type, encoding, count]) => ({ page_type, encoding, count })),
        } as ColumnChunk["meta_data"],
      } as ColumnChunk;
    }),
  };
}
