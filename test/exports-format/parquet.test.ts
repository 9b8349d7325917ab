import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { columnTypesFor, formatterFor } from "../../src/exports/format";
import type { FormatterState, Row } from "../../src/exports/types";
import { body, concat, produce } from "./run";
import { TRICKY } from "./samples";

const def = body({ format: { type: "parquet" } });
const buf = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const read = (b: Uint8Array) => parquetReadObjects({ file: buf(b) });

const COLUMNS = ["id", "name", "qty", "price", "active", "note"];
const TYPES = { qty: "integer", price: "float", active: "boolean" } as const;
const DATA: Row[] = Array.from({ length: 250 }, (_, i) => ({
  id: `row_${i}`,
  name: TRICKY[i % TRICKY.length] ?? "",
  qty: i % 9 === 4 ? null : i * 1000 - 7,
  price: i % 11 === 5 ? null : i / 8,
  active: i % 3 === 0 ? null : i % 2,
  note: i % 4 === 0 ? null : `n${i}`,
}));

/** Same as produce() but with column types. */
function produceTyped(rows: Row[], chunk: number): Uint8Array {
  const out: Uint8Array[] = [];
  let state: FormatterState = {};
  const fresh = () => formatterFor(def, COLUMNS, TYPES);
  out.push(fresh().start(state));
  for (let i = 0; i < rows.length; i += chunk) {
    state = JSON.parse(JSON.stringify(state));
    out.push(fresh().rows(rows.slice(i, i + chunk), state));
  }
  state = JSON.parse(JSON.stringify(state));
  out.push(fresh().finish(state));
  return concat(out);
}

describe("parquet", () => {
  it("reads back with hyparquet, typed, one row group per rows() call", async () => {
    const file = produceTyped(DATA, 60);
    const meta = parquetMetadata(buf(file));
    expect(meta.num_rows).toBe(250n);
    expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([60, 60, 60, 60, 10]);
    expect(meta.schema.slice(1).map((s) => [s.name, s.type])).toEqual([
      ["id", "BYTE_ARRAY"],
      ["name", "BYTE_ARRAY"],
      ["qty", "INT64"],
      ["price", "DOUBLE"],
      ["active", "BOOLEAN"],
      ["note", "BYTE_ARRAY"],
    ]);
    const got = await read(file);
    expect(got).toEqual(
      DATA.map((r) => ({
        ...r,
        qty: r.qty === null ? null : BigInt(r.qty as number),
        active: r.active === null ? null : r.active === 1,
      })),
    );
  });

  it("gives the same bytes from the same rows and state, with or without the JSON round trip", () => {
    const a = produceTyped(DATA, 60);
    expect(produceTyped(DATA, 60)).toEqual(a);
    const f = formatterFor(def, COLUMNS, TYPES);
    const s: FormatterState = {};
    const direct = concat([f.start(s), ...[0, 60, 120, 180, 240].map((i) => f.rows(DATA.slice(i, i + 60), s)), f.finish(s)]);
    expect(direct).toEqual(a);
  });

  it("reads back the same rows however the rows are split", async () => {
    const expected = await read(produceTyped(DATA, 250));
    for (const chunk of [1, 7, 100]) expect(await read(produceTyped(DATA, chunk))).toEqual(expected);
  });

  it("writes untyped columns as UTF-8 strings, numbers as their text, every sample intact", async () => {
    const rows = TRICKY.map((s, i) => ({ s, n: i % 2 ? i + 0.5 : null }));
    const file = produce(def, ["s", "n"], rows, 5);
    const meta = parquetMetadata(buf(file));
    expect(meta.schema[1]).toMatchObject({ type: "BYTE_ARRAY", converted_type: "UTF8" });
    expect(await read(file)).toEqual(rows.map((r) => ({ s: r.s, n: r.n === null ? null : String(r.n) })));
  });

  it("keeps min/max/null-count statistics of numeric columns through the JSON state, none for text", () => {
    const rowsWithZero: Row[] = [
      { id: "a", name: "x", qty: 5, price: -0, active: 1, note: null },
      { id: "b", name: "y", qty: -3, price: 2.5, active: 0, note: null },
      { id: "c", name: "z", qty: null, price: null, active: null, note: "n" },
    ];
    const meta = parquetMetadata(buf(produceTyped(rowsWithZero, 3)));
    const stats = (meta.row_groups[0]?.columns ?? []).map((c) => c.meta_data?.statistics);
    expect(stats[0]).toBeUndefined();
    expect(stats[2]).toMatchObject({ min_value: -3n, max_value: 5n, null_count: 1n });
    expect(stats[3]).toMatchObject({ max_value: 2.5, null_count: 1n });
    expect(Object.is(stats[3]?.min_value, -0)).toBe(true);
    expect(stats[4]).toMatchObject({ min_value: false, max_value: true, null_count: 1n });
  });

  it("keeps the state small: well under 100 bytes per column per rows() call", () => {
    const f = formatterFor(def, COLUMNS, TYPES);
    const s: FormatterState = {};
    f.start(s);
    for (let i = 0; i < 250; i += 10) f.rows(DATA.slice(i, i + 10), s);
    expect(JSON.stringify(s).length / (25 * COLUMNS.length)).toBeLessThan(100);
  });

  it("is a valid empty file with no rows", async () => {
    const file = produce(def, ["a"], []);
    expect(parquetMetadata(buf(file)).num_rows).toBe(0n);
    expect(await read(file)).toEqual([]);
  });

  it("starts and ends with the PAR1 magic", () => {
    const file = produce(def, ["a"], [{ a: "x" }]);
    expect(new TextDecoder().decode(file.slice(0, 4))).toBe("PAR1");
    expect(new TextDecoder().decode(file.slice(-4))).toBe("PAR1");
  });

  it("refuses a value that does not fit the column type, naming the column", () => {
    const f = formatterFor(def, ["qty"], { qty: "integer" });
    const s: FormatterState = {};
    f.start(s);
    expect(() => f.rows([{ qty: "many" }], s)).toThrow(/column "qty" is integer .* "many"/);
    expect(() => f.rows([{ qty: 1.5 }], s)).toThrow(/column "qty"/);
  });
});

describe("parquet column types from the model catalog", () => {
  it("types integer, float and boolean fields and aggregates; text, timestamps and params stay strings", () => {
    const d = body({
      model: "purchases",
      format: { type: "parquet" },
      fields: [
        { from: "timestamp" },
        { from: "item_id", to: "item" },
        { from: "count" },
        { from: "price", to: "spent" },
        { from: "price", to: "priced", default: "n/a" },
        { from: "count", to: "n", replace: [{ value: 0, with: 1 }] },
      ],
    });
    expect(columnTypesFor(d)).toEqual({ timestamp: "string", item: "string", count: "integer", spent: "float", priced: "string", n: "integer" });
    const agg = body({
      model: "purchases",
      aggregate: true,
      fields: [
        { from: "item_id", aggregation: "group" },
        { from: "count", to: "total", aggregation: "sum" },
        { from: "price", to: "avg_price", aggregation: "avg" },
        { from: "user_id", to: "buyers", aggregation: "count" },
        { from: "price", to: "max_price", aggregation: "max" },
      ],
    });
    expect(columnTypesFor(agg)).toEqual({ item_id: "string", total: "integer", avg_price: "float", buyers: "integer", max_price: "float" });
    expect(columnTypesFor(body({ model: "survey_responses", all_fields: true }))).toMatchObject({ completed: "boolean", answer: "string" });
    expect(columnTypesFor(body({ model: "no_such_model", fields: [{ from: "x" }] }))).toEqual({});
  });

  it("writes a typed file without being given types", async () => {
    const d = body({ model: "purchases", format: { type: "parquet" }, fields: [{ from: "item_id" }, { from: "count" }, { from: "price" }] });
    const data = [
      { item_id: "sword", count: 2, price: 9.5 },
      { item_id: "shield", count: null, price: 12 },
    ];
    const file = produce(d, ["item_id", "count", "price"], data);
    expect(parquetMetadata(buf(file)).schema.slice(1).map((s) => s.type)).toEqual(["BYTE_ARRAY", "INT64", "DOUBLE"]);
    expect(await read(file)).toEqual([
      { item_id: "sword", count: 2n, price: 9.5 },
      { item_id: "shield", count: null, price: 12 },
    ]);
  });
});
