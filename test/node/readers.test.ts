import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Row } from "../../src/exports/types";
import { body, produce } from "../exports-format/run";
import { COLUMNS, rows } from "../exports-format/samples";

/**
 * psv, tsv and ndjson read back by readers that know nothing of ferry: Python's `csv` module
 * (its own C parser, with the delimiter of each type) and `jq`. The file is produced the way a
 * run does: chunk by chunk, formatter state through JSON in between. csv, json, xml, parquet
 * and txt have their readers in cli-tools.test.ts and parquet-duckdb.test.ts.
 */
const dir = mkdtempSync(join(tmpdir(), "ferry-readers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DATA = rows(5_000);
const run = (cmd: string, args: string[], input?: Uint8Array) => execFileSync(cmd, args, { input, maxBuffer: 256 * 1024 * 1024 }).toString("utf8");
const save = (name: string, data: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};

/** Python reads the file with csv.reader and prints the rows as one JSON array (ASCII-escaped). */
const PY_DELIMITED = `
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    print(json.dumps(list(csv.reader(f, delimiter=sys.argv[2], quotechar='"', strict=True))))
`;

/** What a delimited reader sees in a cell: null and "" both read as an empty field. */
const cellText = (v: string | number | null) => (v === null ? "" : String(v));

describe.each([
  ["psv", "|", "\n"],
  ["tsv", "\t", "\n"],
  ["tsv", "\t", "\r\n"],
] as const)("%s (delimiter %j, newline %j) read by Python's csv module", (type, delimiter, newline) => {
  it("finds the header and every cell of every row (quotes, delimiters, line breaks, Unicode)", () => {
    const def = body({ format: { type, newline, formula_protection: false } });
    const file = save(`orders-${type}-${newline.length}.${type}`, produce(def, COLUMNS, DATA, 333));
    const got: string[][] = JSON.parse(run("python3", ["-c", PY_DELIMITED, file, delimiter]));
    expect(got[0]).toEqual(COLUMNS);
    expect(got.length).toBe(DATA.length + 1);
    expect(got.slice(1)).toEqual(DATA.map((r) => COLUMNS.map((c) => cellText(r[c] ?? null))));
  });

  it("with formula protection (the default) a reader sees the apostrophe, and numbers unchanged", () => {
    const data: Row[] = [{ id: "a", name: "=SUM(A1:A2)", amount: -7, note: "-12.5" }];
    const file = save(`protected.${type}`, produce(body({ format: { type, newline } }), COLUMNS, data));
    const got: string[][] = JSON.parse(run("python3", ["-c", PY_DELIMITED, file, delimiter]));
    expect(got).toEqual([COLUMNS, ["a", "'=SUM(A1:A2)", "-7", "-12.5"]]);
  });
});

describe("ndjson read by jq", () => {
  const def = body({ format: { type: "ndjson" } });
  const file = () => save("orders.ndjson", produce(def, COLUMNS, DATA, 333));

  it("every line is one JSON object with the columns in order, values as written", () => {
    const path = file();
    // jq -c prints each input value on one line: as many lines out as rows in means one object per line.
    const out = run("jq", ["-c", "[keys_unsorted, .id, .name, .amount, .note]", path]).split("\n").slice(0, -1);
    expect(out.length).toBe(DATA.length);
    const got = out.map((l) => JSON.parse(l));
    expect(got).toEqual(DATA.map((r) => [COLUMNS, r.id ?? null, r.name ?? null, r.amount ?? null, r.note ?? null]));
    // types as jq sees them: numbers stay numbers, nulls stay null
    const types = run("jq", ["-r", "[.amount | type] | .[0]", path]).split("\n").slice(0, -1);
    expect(types).toEqual(DATA.map((r) => (r.amount === null ? "null" : "number")));
  });

  it("jq --slurp sums the amounts to the same total; json_values: string gives strings to jq", () => {
    const total = Number(run("jq", ["-s", "map(.amount // 0) | add", file()]));
    const want = DATA.reduce((s, r) => s + (typeof r.amount === "number" ? r.amount : 0), 0);
    expect(total).toBeCloseTo(want, 6);
    const strings = save("strings.ndjson", produce(body({ format: { type: "ndjson", json_values: "string" } }), COLUMNS, DATA.slice(0, 50)));
    const types = run("jq", ["-r", ".amount | type", strings]).split("\n").slice(0, -1);
    expect(types).toEqual(DATA.slice(0, 50).map((r) => (r.amount === null ? "null" : "string")));
  });

  it("no rows is an empty file jq reads as nothing", () => {
    const path = save("empty.ndjson", produce(def, COLUMNS, []));
    expect(run("jq", ["-c", ".", path])).toBe("");
  });
});
