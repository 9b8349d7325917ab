import { describe, expect, it } from "vitest";
import { validateExport } from "../../src/exports/compiler";
import { ExportBody } from "../../src/exports/definition";
import { TXT_WIDTHS, formatterFor, txtWidthsFor } from "../../src/exports/format";
import { fitWidth } from "../../src/exports/format/fixed";
import { body, produce, text } from "./run";
import { COLUMNS, TRICKY, rows } from "./samples";

const DATA = rows(120);
const WIDTHS = { id: 9, name: 12, amount: 8, note: 5 };
const fields = COLUMNS.map((from) => ({ from, width: WIDTHS[from as keyof typeof WIDTHS] }));
const cps = (s: string) => [...s];

/** An independent reader: cut each line at the widths, counting code points; trailing spaces trimmed. */
function readFixed(file: string, widths: number[], newline = "\n"): string[][] {
  const lines = file.split(newline);
  expect(lines.pop()).toBe("");
  return lines.map((l) => {
    const c = cps(l);
    expect(c.length).toBe(widths.reduce((a, b) => a + b, 0));
    let at = 0;
    return widths.map((w) => {
      const cell = c.slice(at, at + w).join("");
      at += w;
      return cell.replace(/ +$/, "");
    });
  });
}

/** What the reader should find: the value as text, breaks as spaces, cut at the width, trailing spaces gone. */
const expected = (v: string | number | null, w: number) =>
  cps(v === null ? "" : String(v).replace(/[\r\n\t\v\f\u0085\u2028\u2029]/g, " "))
    .slice(0, w)
    .join("")
    .replace(/ +$/, "");

describe("txt (fixed width)", () => {
  it.each([
    { newline: "\n", header: true },
    { newline: "\r\n", header: false },
  ] as const)("%j: every line is the sum of the widths, split or not, and reads back by column", (opts) => {
    const def = body({ fields, format: { type: "txt", ...opts } });
    const whole = produce(def, COLUMNS, DATA);
    for (const chunk of [1, 7, 50]) expect(produce(def, COLUMNS, DATA, chunk)).toEqual(whole);
    const widths = COLUMNS.map((c) => WIDTHS[c as keyof typeof WIDTHS]);
    const got = readFixed(text(whole), widths, opts.newline);
    const want = DATA.map((r) => COLUMNS.map((c, i) => expected(r[c] ?? null, widths[i] as number)));
    expect(got).toEqual(opts.header ? [["id", "name", "amount", "note"], ...want] : want);
    expect(formatterFor(def, COLUMNS)).toMatchObject({ extension: "txt", contentType: "text/plain; charset=utf-8" });
  });

  it("pads and cuts by code points, never splitting a surrogate pair", () => {
    expect(fitWidth("ab", 4)).toBe("ab  ");
    expect(fitWidth("🦀🦀🦀", 2)).toBe("🦀🦀");
    expect(fitWidth("日本語", 5)).toBe("日本語  ");
    expect(fitWidth("", 3)).toBe("   ");
    for (const s of TRICKY) for (const w of [1, 3, 10]) expect(cps(fitWidth(s, w))).toHaveLength(w);
  });

  it("default widths come from the catalog type, the header, defaults and replacements (streamable: no data needed)", () => {
    const def = ExportBody.parse({
      name: "p",
      model: "participations",
      fields: [
        { from: "user_id" },
        { from: "value" },
        { from: "has_won", to: "won" },
        { from: "has_completed", replace: [{ value: 1, with: "completed" }] },
        { from: "participation_date", to: "d" },
        { from: "stackid", width: 3 },
      ],
      format: { type: "txt" },
    });
    expect(txtWidthsFor(def)).toEqual({
      user_id: TXT_WIDTHS.string,
      value: TXT_WIDTHS.integer,
      won: 3,
      has_completed: 13,
      d: 19,
      stackid: 3,
    });
    const agg = ExportBody.parse({
      name: "a",
      model: "participations",
      aggregate: true,
      fields: [{ from: "stackid", aggregation: "group" }, { from: "value", aggregation: "avg" }, { from: "user_id", aggregation: "count", to: "n" }],
      format: { type: "txt" },
    });
    expect(txtWidthsFor(agg)).toEqual({ stackid: 255, value: 24, n: 20 });
  });

  it("options that do not apply to a format are a 400 naming them, not ignored", () => {
    const bad = (format: Record<string, unknown>) => {
      const r = ExportBody.safeParse({ name: "x", model: "participations", all_fields: true, format });
      expect(r.success, JSON.stringify(format)).toBe(false);
      return r.success ? [] : r.error.issues.map((i) => [i.path.join("."), i.message]);
    };
    expect(bad({ type: "json", delimiter: ";" })).toEqual([["format.delimiter", "delimiter does not apply to the json format (its options: json_values); remove it"]]);
    expect(bad({ type: "parquet", header: true })[0]?.[0]).toBe("format.header");
    expect(bad({ type: "parquet", json_values: "string" })).toEqual([["format.json_values", "json_values does not apply to the parquet format (it has no options); remove it"]]);
    expect(bad({ type: "csv", json_values: "string" })[0]?.[0]).toBe("format.json_values");
    expect(bad({ type: "json", json_values: "text" })[0]?.[0]).toBe("format.json_values");
    expect(bad({ type: "txt", bom: true })).toEqual([["format.bom", "bom does not apply to the txt format (its options: newline, header); remove it"]]);
    expect(bad({ type: "txt", delimiter: "|" })[0]?.[0]).toBe("format.delimiter");
    // width is a txt option
    const csv = ExportBody.parse({ name: "x", model: "participations", fields: [{ from: "user_id", width: 10 }], format: { type: "csv" } });
    expect(validateExport(csv)).toEqual([{ path: "fields.0.width", message: "width applies to the txt format only, not to csv; remove it" }]);
    const txt = ExportBody.parse({ name: "x", model: "participations", fields: [{ from: "user_id", width: 10 }], format: { type: "txt", header: false } });
    expect(validateExport(txt)).toEqual([]);
  });
});
