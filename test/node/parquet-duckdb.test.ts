import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, expect, it } from "vitest";
import { formatterFor } from "../../src/exports/format";
import type { FormatterState, Row } from "../../src/exports/types";
import { body, concat, produce } from "../exports-format/run";
import { TRICKY } from "../exports-format/samples";

/** DuckDB (a C++ Parquet reader independent of the JavaScript writer) reads the parquet output. */
const dir = mkdtempSync(join(tmpdir(), "ferry-parquet-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function query(file: string, sql: string) {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql.replaceAll("$file", `'${file}'`))).getRowObjects();
  } finally {
    c.closeSync();
  }
}

const COLUMNS = ["id", "name", "qty", "price", "active"];
const TYPES = { qty: "integer", price: "float", active: "boolean" } as const;
const DATA: Row[] = Array.from({ length: 10_000 }, (_, i) => ({
  id: `row_${i}`,
  name: i % 13 === 0 ? null : (TRICKY[i % TRICKY.length] ?? ""),
  qty: i % 9 === 4 ? null : i * 1000 - 7_000_000,
  price: i % 11 === 5 ? null : i / 8,
  active: i % 3 === 0 ? null : i % 2,
}));

it("DuckDB reads a typed file written in many resumed rows() calls, row for row", async () => {
  let state: FormatterState = {};
  const f = () => formatterFor(body({ format: { type: "parquet" } }), COLUMNS, TYPES);
  const parts = [f().start(state)];
  for (let i = 0; i < DATA.length; i += 700) {
    state = JSON.parse(JSON.stringify(state));
    parts.push(f().rows(DATA.slice(i, i + 700), state));
  }
  state = JSON.parse(JSON.stringify(state));
  parts.push(f().finish(state));
  const file = join(dir, "typed.parquet");
  writeFileSync(file, concat(parts));

  const schema = await query(file, "select name, type from parquet_schema($file) where name <> 'root'");
  expect(schema.map((r) => [r.name, r.type])).toEqual([
    ["id", "BYTE_ARRAY"],
    ["name", "BYTE_ARRAY"],
    ["qty", "INT64"],
    ["price", "DOUBLE"],
    ["active", "BOOLEAN"],
  ]);
  const groups = await query(file, "select count(distinct row_group_id) as n, sum(row_group_num_rows) / 5 as rows from parquet_metadata($file)");
  expect(Number(groups[0]?.n)).toBe(Math.ceil(DATA.length / 700));
  expect(Number(groups[0]?.rows)).toBe(DATA.length);

  const rows = await query(file, "select * from read_parquet($file)");
  expect(rows).toEqual(
    DATA.map((r) => ({
      ...r,
      qty: r.qty === null ? null : BigInt(r.qty as number),
      active: r.active === null ? null : r.active === 1,
    })),
  );
  // footer statistics of the first row group, as written from the JSON state
  const first = DATA.slice(0, 700);
  const qty = first.map((r) => r.qty).filter((v): v is number => typeof v === "number");
  const stats = await query(
    file,
    "select stats_min_value as lo, stats_max_value as hi, stats_null_count as nulls from parquet_metadata($file) where row_group_id = 0 and path_in_schema = 'qty'",
  );
  expect(stats).toEqual([
    { lo: String(Math.min(...qty)), hi: String(Math.max(...qty)), nulls: BigInt(first.length - qty.length) },
  ]);
});

it("DuckDB reads every sample string byte for byte", async () => {
  const data = TRICKY.map((s, i) => ({ s, i: String(i) }));
  const file = join(dir, "strings.parquet");
  writeFileSync(file, produce(body({ format: { type: "parquet" } }), ["s", "i"], data, 4));
  const rows = await query(file, "select s, encode(s) as bytes from read_parquet($file) order by cast(i as integer)");
  expect(rows.map((r) => r.s)).toEqual(TRICKY);
  for (const [k, r] of rows.entries()) {
    expect(Array.from((r.bytes as { bytes: Uint8Array }).bytes)).toEqual(Array.from(new TextEncoder().encode(TRICKY[k])));
  }
});

it("DuckDB reads a file without rows", async () => {
  const file = join(dir, "empty.parquet");
  writeFileSync(file, produce(body({ format: { type: "parquet" } }), ["a", "b"], []));
  expect(await query(file, "select count(*) as n from read_parquet($file)")).toEqual([{ n: 0n }]);
});
