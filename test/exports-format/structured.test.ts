import { DOMParser, type Element, type Node } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { formatterFor } from "../../src/exports/format";
import type { Row } from "../../src/exports/types";
import { body, produce, text } from "./run";
import { COLUMNS, TRICKY, rows } from "./samples";

const DATA = rows(90);
/** Controls and noncharacters XML 1.0 cannot carry, next to text it can. */
const NOT_XML = ["nul\u0000byte", "bell\u0007 vt\u000b ff\u000c esc\u001b", "nonchar \uffff \ufffe", "del \u007f ok"];

const normalise = (r: Row, columns = COLUMNS) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]));

describe("json", () => {
  it("is {\"<export name>\": [rows]} with keys in column order, split or not", () => {
    const def = body({ name: "win-info", format: { type: "json" } });
    const whole = produce(def, COLUMNS, DATA);
    for (const chunk of [1, 13, 89]) expect(produce(def, COLUMNS, DATA, chunk)).toEqual(whole);
    const doc = JSON.parse(text(whole));
    expect(Object.keys(doc)).toEqual(["win_info"]);
    expect(doc["win_info"]).toEqual(DATA.map((r) => normalise(r)));
    expect(Object.keys(doc["win_info"][0])).toEqual(COLUMNS);
  });

  it("writes an empty list when there are no rows", () => {
    const out = text(produce(body({ format: { type: "json" } }), COLUMNS, []));
    expect(out).toBe('{"orders":[]}\n');
    expect(JSON.parse(out)).toEqual({ orders: [] });
  });

  it("round-trips every sample string, controls included", () => {
    const def = body({ format: { type: "json" } });
    const data = [...TRICKY, ...NOT_XML].map((s) => ({ s }));
    expect(JSON.parse(text(produce(def, ["s"], data, 3))).orders).toEqual(data);
  });
});

describe("json_values: string", () => {
  const data: Row[] = [
    { userid: "u1", haswon: 0, value: 10000, avg: 100.5, neg: -7, claimed_date: null, big: 1e21, nan: Number.NaN },
    { userid: "u2", haswon: 1, value: 0, avg: 0.1, neg: 0, claimed_date: "2026-01-02 00:00:00", big: 2, nan: 1 },
  ];
  const cols = Object.keys(data[0]!);
  const asStrings = [
    { userid: "u1", haswon: "0", value: "10000", avg: "100.5", neg: "-7", claimed_date: null, big: "1e+21", nan: null },
    { userid: "u2", haswon: "1", value: "0", avg: "0.1", neg: "0", claimed_date: "2026-01-02 00:00:00", big: "2", nan: "1" },
  ];

  it("json: every value but null is a string, as in the automated exports payloads; native stays numbers", () => {
    const doc = JSON.parse(text(produce(body({ name: "win-info", format: { type: "json", json_values: "string" } }), cols, data, 1)));
    expect(doc).toEqual({ win_info: asStrings });
    const native = JSON.parse(text(produce(body({ name: "win-info", format: { type: "json", json_values: "native" } }), cols, data)));
    expect(native.win_info[0]).toMatchObject({ haswon: 0, value: 10000, avg: 100.5, claimed_date: null, nan: null });
    expect(text(produce(body({ format: { type: "json" } }), cols, data))).toBe(text(produce(body({ format: { type: "json", json_values: "native" } }), cols, data)));
  });

  it("ndjson: the same per line", () => {
    const s = text(produce(body({ format: { type: "ndjson", json_values: "string" } }), cols, data));
    expect(s.slice(0, -1).split("\n").map((l) => JSON.parse(l))).toEqual(asStrings);
  });
});

describe("ndjson", () => {
  it("is one object per LF-terminated line, split or not", () => {
    const def = body({ format: { type: "ndjson" } });
    const whole = produce(def, COLUMNS, DATA);
    for (const chunk of [1, 13]) expect(produce(def, COLUMNS, DATA, chunk)).toEqual(whole);
    const s = text(whole);
    expect(s.endsWith("\n")).toBe(true);
    const lines = s.slice(0, -1).split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual(DATA.map((r) => normalise(r)));
  });

  it("writes nothing for no rows", () => {
    expect(produce(body({ format: { type: "ndjson" } }), COLUMNS, []).length).toBe(0);
  });
});

/** A strict parse: any warning or error from the parser fails the test. */
function parseXml(s: string) {
  return new DOMParser({
    onError: (level, msg) => {
      throw new Error(`${level}: ${msg}`);
    },
  }).parseFromString(s, "text/xml");
}

function readXmlRows(s: string, columns: string[]) {
  const doc = parseXml(s);
  const root = doc.documentElement;
  if (!root) throw new Error("no root");
  const elements = (n: Node) =>
    Array.from(n.childNodes as ArrayLike<Node>).filter((c): c is Element => c.nodeType === 1);
  return {
    name: root.getAttribute("name"),
    rows: elements(root).map((row) => {
      expect(row.tagName).toBe("row");
      const cells = elements(row);
      expect(cells.length).toBe(columns.length);
      return Object.fromEntries(
        cells.map((cell, i) => {
          const name = cell.tagName === "field" ? cell.getAttribute("name") : cell.tagName;
          expect(name).toBe(columns[i]);
          if (cell.getAttribute("xsi:nil") === "true") return [name, null];
          const t = cell.textContent ?? "";
          if (cell.getAttribute("encoding") === "base64") {
            return [name, new TextDecoder().decode(Uint8Array.from(atob(t), (c) => c.charCodeAt(0)))];
          }
          return [name, t];
        }),
      );
    }),
  };
}

describe("xml", () => {
  const asText = (r: Row, columns: string[]) =>
    Object.fromEntries(columns.map((c) => [c, r[c] === null || r[c] === undefined ? null : String(r[c])]));

  it("is well-formed, split or not, and reads back every value", () => {
    const def = body({ format: { type: "xml" } });
    const whole = produce(def, COLUMNS, DATA);
    for (const chunk of [1, 13]) expect(produce(def, COLUMNS, DATA, chunk)).toEqual(whole);
    const got = readXmlRows(text(whole), COLUMNS);
    expect(got.name).toBe("orders");
    expect(got.rows).toEqual(DATA.map((r) => asText(r, COLUMNS)));
  });

  it("writes columns that are not XML names as <field name>", () => {
    const columns = ["ok_name", "has space", "1starts_with_digit", "xmlReserved", "a<b&\"c\"", "ünï"];
    const data = [{ ok_name: "1", "has space": "2", "1starts_with_digit": "3", xmlReserved: "4", 'a<b&"c"': "5", "ünï": "6" }];
    const s = text(produce(body({ format: { type: "xml" } }), columns, data));
    expect(s).toContain("<ok_name>1</ok_name>");
    expect(s).toContain('<field name="has space">2</field>');
    expect(s).toContain("<ünï>6</ünï>");
    expect(readXmlRows(s, columns).rows).toEqual(data);
  });

  it("keeps CR, tabs, markup and characters XML cannot hold", () => {
    const data = [...TRICKY, ...NOT_XML].map((s) => ({ s }));
    const s = text(produce(body({ format: { type: "xml" } }), ["s"], data, 4));
    expect(s).toContain("&#13;");
    expect(s).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);
    expect(readXmlRows(s, ["s"]).rows).toEqual(data);
  });

  it("tells null from empty text", () => {
    const s = text(produce(body({ format: { type: "xml" } }), ["a", "b"], [{ a: null, b: "" }]));
    expect(s).toContain('<a xsi:nil="true"/><b></b>');
    expect(readXmlRows(s, ["a", "b"]).rows).toEqual([{ a: null, b: "" }]);
  });

  it("has a root element even without rows", () => {
    expect(readXmlRows(text(produce(body({ format: { type: "xml" } }), COLUMNS, [])), COLUMNS).rows).toEqual([]);
  });
});

describe("content types", () => {
  it.each([
    ["json", "application/json; charset=utf-8"],
    ["ndjson", "application/x-ndjson; charset=utf-8"],
    ["xml", "application/xml; charset=utf-8"],
    ["parquet", "application/vnd.apache.parquet"],
  ])("%s", (type, contentType) => {
    const f = formatterFor(body({ format: { type } }), ["a"]);
    expect([f.extension, f.contentType]).toEqual([type, contentType]);
  });
});
