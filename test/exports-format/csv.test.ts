import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { ExportBody } from "../../src/exports/definition";
import { formatterFor } from "../../src/exports/format";
import { COLUMNS, TRICKY, rows } from "./samples";
import { body, produce, text } from "./run";

/** What a reader should see in a cell with formula protection on. */
const protectedText = (s: string) => (/^[=+\-@\t\r]/.test(s) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? `'${s}` : s);
const cellText = (v: string | number | null, protect: boolean) =>
  v === null ? "" : typeof v === "number" ? String(v) : protect ? protectedText(v) : v;

const DATA = rows(120);

describe.each([
  { type: "csv", delimiter: "," },
  { type: "psv", delimiter: "|" },
  { type: "tsv", delimiter: "\t" },
])("$type", ({ type, delimiter }) => {
  it.each([
    { newline: "\n", header: true, formula_protection: true },
    { newline: "\r\n", header: true, formula_protection: false },
    { newline: "\n", header: false, formula_protection: false },
    { newline: "\r\n", header: false, formula_protection: true },
  ] as const)("newline %j reads back with csv-parse, split or not", (opts) => {
    const def = body({ format: { type, ...opts } });
    const whole = produce(def, COLUMNS, DATA);
    for (const chunk of [1, 7, 50]) expect(produce(def, COLUMNS, DATA, chunk)).toEqual(whole);

    const records: string[][] = parse(text(whole), {
      delimiter,
      record_delimiter: opts.newline,
      relax_column_count: false,
    });
    const expected = DATA.map((r) => COLUMNS.map((c) => cellText(r[c] ?? null, opts.formula_protection)));
    if (opts.header) expected.unshift(COLUMNS);
    expect(records).toEqual(expected);
    // every record, including the last, ends with the chosen newline and no other record separator exists
    expect(text(whole).endsWith(opts.newline)).toBe(true);
  });
});

describe("csv options", () => {
  it("uses a custom delimiter and enclosure", () => {
    const def = body({ format: { type: "csv", delimiter: ";", enclosure: "'" } });
    const out = text(produce(def, ["a", "b"], [{ a: "x;y", b: "it's" }, { a: 'say "q"', b: "plain" }]));
    expect(out).toBe(`a;b\n'x;y';'it''s'\nsay "q";plain\n`);
    expect(parse(out, { delimiter: ";", quote: "'", escape: "'" })).toEqual([
      ["a", "b"],
      ["x;y", "it's"],
      ['say "q"', "plain"],
    ]);
  });

  it("accepts a multi-character delimiter", () => {
    const def = body({ format: { type: "csv", delimiter: "||" } });
    const out = text(produce(def, ["a", "b"], [{ a: "x|y", b: "a||b" }]));
    expect(out).toBe(`a||b\nx|y||"a||b"\n`);
    expect(parse(out, { delimiter: "||" })).toEqual([
      ["a", "b"],
      ["x|y", "a||b"],
    ]);
  });

  it("quotes per RFC 4180 only where needed and tells null from empty text", () => {
    const def = body({ format: { type: "csv" } });
    const out = text(
      produce(def, ["a", "b", "c"], [
        { a: null, b: "", c: 'he said "no"' },
        { a: 1.5, b: -3, c: "two\r\nlines" },
      ]),
    );
    expect(out).toBe(`a,b,c\n,"","he said ""no"""\n1.5,-3,"two\r\nlines"\n`);
  });

  it("writes missing columns as empty cells", () => {
    const def = body({ format: { type: "csv" } });
    expect(text(produce(def, ["a", "b"], [{ a: "1" }]))).toBe("a,b\n1,\n");
  });

  it("neutralises formula cells by default and not when switched off", () => {
    const on = body({ format: { type: "csv" } });
    const off = body({ format: { type: "csv", formula_protection: false } });
    const r = [{ v: "=HYPERLINK(\"http://x\")" }, { v: "-1" }, { v: "-1-1" }, { v: "@SUM(1)" }, { v: "\t=1" }, { v: -7 }];
    expect(text(produce(on, ["v"], r))).toBe(`v\n"'=HYPERLINK(""http://x"")"\n-1\n'-1-1\n'@SUM(1)\n'\t=1\n-7\n`);
    expect(text(produce(off, ["v"], r))).toBe(`v\n"=HYPERLINK(""http://x"")"\n-1\n-1-1\n@SUM(1)\n\t=1\n-7\n`);
  });

  it("applies formula protection to header names too", () => {
    const def = body({ format: { type: "csv" } });
    expect(text(produce(def, ["=cmd"], []))).toBe("'=cmd\n");
  });

  it("without enclosure writes plain cells and refuses ones that would need quoting", () => {
    const def = body({ format: { type: "csv", enclosure: "" } });
    expect(text(produce(def, ["a"], [{ a: 'say "hi"' }]))).toBe('a\nsay "hi"\n');
    expect(() => produce(def, ["a"], [{ a: "x,y" }])).toThrow(/no enclosure character/);
  });

  it("round-trips every sample string byte for byte", () => {
    const def = body({ format: { type: "csv", formula_protection: false } });
    const r = TRICKY.map((s) => ({ s }));
    const out = produce(def, ["s"], r);
    const records: string[][] = parse(text(out), { from_line: 2 });
    expect(records.map((x) => x[0])).toEqual(TRICKY.map((s) => s));
    // the UTF-8 of each value appears verbatim in the file
    const bytes = Array.from(out).join(",");
    for (const s of TRICKY.filter((x) => x.length > 3 && !/["\n\r,]/.test(x))) {
      expect(bytes.includes(Array.from(new TextEncoder().encode(s)).join(","))).toBe(true);
    }
  });

  it.each([
    ["csv", "text/csv; charset=utf-8"],
    ["psv", "text/plain; charset=utf-8"],
    ["tsv", "text/tab-separated-values; charset=utf-8"],
  ])("%s reports its extension and content type", (type, contentType) => {
    const f = formatterFor(body({ format: { type } }), ["a"]);
    expect([f.extension, f.contentType]).toEqual([type, contentType]);
  });

  it("starts with a UTF-8 byte order mark only when asked", () => {
    const withBom = produce(body({ format: { type: "csv", bom: true } }), ["a"], [{ a: "é" }]);
    expect(Array.from(withBom.slice(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
    expect(parse(text(withBom), { bom: true })).toEqual([["a"], ["é"]]);
    const noHeader = produce(body({ format: { type: "csv", bom: true, header: false } }), ["a"], [{ a: "x" }]);
    expect(Array.from(noHeader)).toEqual([0xef, 0xbb, 0xbf, 0x78, 0x0a]);
    expect(produce(body({ format: { type: "csv" } }), ["a"], [{ a: "x" }])[0]).toBe(0x61);
  });

  it("rejects format options that cannot work, naming the option", () => {
    const issues = (format: unknown) =>
      ExportBody.safeParse({ name: "x", model: "m", format }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(issues({ type: "psv", delimiter: ";" })).toEqual(['format.delimiter: psv always uses "|" as delimiter; leave delimiter out or use type csv']);
    expect(issues({ type: "tsv", delimiter: "\t" })).toEqual([]);
    expect(issues({ type: "csv", delimiter: "a\nb" })).toEqual(["format.delimiter: delimiter cannot contain a line break"]);
    expect(issues({ type: "csv", enclosure: "\n" })).toEqual(["format.enclosure: enclosure cannot be a line break"]);
    expect(issues({ type: "csv", delimiter: '"' })).toEqual(['format.enclosure: enclosure "\\"" cannot be part of the delimiter']);
    expect(issues({ type: "csv", delimiter: ";", enclosure: ";" })).toEqual(['format.enclosure: enclosure ";" cannot be part of the delimiter']);
    expect(issues({ type: "csv", delimiter: ";", enclosure: "'", newline: "\r\n", header: false, bom: true })).toEqual([]);
  });

  it("psv and tsv keep their own delimiter", () => {
    expect(text(produce(body({ format: { type: "psv" } }), ["a", "b"], [{ a: "x,y", b: "z|w" }]))).toBe('a|b\nx,y|"z|w"\n');
    expect(text(produce(body({ format: { type: "tsv" } }), ["a", "b"], [{ a: "x,y", b: "z\tw" }]))).toBe('a\tb\nx,y\t"z\tw"\n');
  });
});
