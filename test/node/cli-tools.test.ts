import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { zipCompressor } from "../../src/exports/compress/zip";
import type { Row } from "../../src/exports/types";
import { body, compress, concat, produce } from "../exports-format/run";
import { COLUMNS, rows } from "../exports-format/samples";

/**
 * The standard command-line tools (gzip, unzip) read what the compressors write. They cannot
 * run inside workerd, so this file runs in the Node project (vitest.config.ts).
 */
const dir = mkdtempSync(join(tmpdir(), "ferry-formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
const save = (name: string, data: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};

const DATA = rows(20_000);

/** Byte comparison without vitest's element-by-element diff (slow on megabytes). */
function expectSameBytes(got: Uint8Array, want: Uint8Array) {
  expect(got.length).toBe(want.length);
  expect(Buffer.compare(Buffer.from(got), Buffer.from(want))).toBe(0);
}

describe.each(["csv", "json", "xml", "parquet", "txt"])("%s", (type) => {
  const plain = produce(body({ format: { type } }), COLUMNS, DATA, 20_000);

  it("gzip: gzip -t passes and gunzip gives the uncompressed file byte for byte", () => {
    const file = save(`orders-${type}.${type}.gz`, produce(body({ format: { type }, compression: "gzip" }), COLUMNS, DATA, 20_000));
    run("gzip", ["-t", file]);
    expectSameBytes(run("gunzip", ["-c", file]), plain);
  });

  it("zip: unzip -t passes and unzip -p gives the file byte for byte, under its name", () => {
    const file = save(`orders-${type}.zip`, produce(body({ format: { type }, compression: "zip" }), COLUMNS, DATA, 20_000));
    expect(run("unzip", ["-t", file]).toString()).toMatch(/No errors detected/);
    expect(run("unzip", ["-Z1", file]).toString().trim()).toBe(`orders.${type}`);
    expectSameBytes(run("unzip", ["-p", file]), plain);
  });
});

/**
 * txt (fixed width), read by tools that know nothing of ferry: perl cuts each line at the
 * widths counting characters (-CSD: UTF-8 in and out), and `cut -c` cuts ASCII lines by column.
 * The file is produced the way a run does: chunk by chunk, state through JSON in between.
 */
describe("txt read back by column", () => {
  const WIDTHS = { id: 9, name: 12, amount: 8, note: 5 };
  const widths = COLUMNS.map((c) => WIDTHS[c as keyof typeof WIDTHS]);
  const def = body({ fields: COLUMNS.map((from) => ({ from, width: WIDTHS[from as keyof typeof WIDTHS] })), format: { type: "txt" } });
  const cell = (v: string | number | null, w: number) =>
    [...(v === null ? "" : String(v).replace(/[\r\n\t\v\f\u0085\u2028\u2029]/g, " "))].slice(0, w).join("").replace(/ +$/, "");

  it("perl, by characters, finds every value of every row (Unicode, breaks, empties)", () => {
    const file = produce(def, COLUMNS, DATA, 777);
    const script = `chomp; my $p = 0; my @c; for my $w (${widths.join(",")}) { my $s = substr($_, $p, $w); $s =~ s/ +$//; push @c, $s; $p += $w } print join("\x1f", @c), "\x1e"`;
    const out = execFileSync("perl", ["-CSD", "-ne", script], { input: file, maxBuffer: 256 * 1024 * 1024 }).toString("utf8");
    const got = out.split("\x1e").slice(0, -1).map((l) => l.split("\x1f"));
    expect(got[0]).toEqual(["id", "name", "amount", "note"]);
    expect(got.length).toBe(DATA.length + 1);
    const want = DATA.map((r) => COLUMNS.map((c, i) => cell(r[c] ?? null, widths[i] as number)));
    expect(got.slice(1)).toEqual(want);
  });

  it("cut -c cuts ASCII columns where the widths say", () => {
    const ascii: Row[] = DATA.slice(0, 500).map((r, i) => ({ ...r, name: `name-${i}-${"x".repeat(i % 20)}`, note: i % 3 ? "ok" : null }));
    const file = save("ascii.txt", produce(def, COLUMNS, ascii, 64));
    const column = (from: number, to: number) =>
      run("cut", ["-c", `${from}-${to}`, file]).toString().split("\n").slice(0, -1).map((s) => s.replace(/ +$/, ""));
    expect(column(1, 9)).toEqual(["id", ...ascii.map((r) => cell(r.id ?? null, 9))]);
    expect(column(10, 21)).toEqual(["name", ...ascii.map((r) => cell(r.name ?? null, 12))]);
    expect(column(22, 29)).toEqual(["amount", ...ascii.map((r) => cell(r.amount ?? null, 8))]);
    expect(column(30, 34)).toEqual(["note", ...ascii.map((r) => cell(r.note ?? null, 5))]);
  });
});

/** Rows split over many rows() calls, state through JSON between them (as produce() does). */
describe("resumed in many small steps", () => {
  const def = (compression: string) => body({ format: { type: "csv" }, compression });
  const plain = produce(def("none"), COLUMNS, DATA, 20_000);

  it("gzip", () => {
    const file = save("steps.csv.gz", produce(def("gzip"), COLUMNS, DATA, 333));
    run("gzip", ["-t", file]);
    expectSameBytes(run("gunzip", ["-c", file]), plain);
  });

  it("zip", () => {
    const file = save("steps.zip", produce(def("zip"), COLUMNS, DATA, 333));
    expect(run("unzip", ["-t", file]).toString()).toMatch(/No errors detected/);
    expectSameBytes(run("unzip", ["-p", file]), plain);
  });
});


describe("zip details", () => {
  const parts = [new TextEncoder().encode("a,b\n".repeat(10_000)), new Uint8Array(0), new TextEncoder().encode("ünï,🦀\n")];
  const whole = concat(parts);

  it("ZIP64 records are accepted by unzip", () => {
    const file = save("zip64.zip", compress(() => zipCompressor("big.csv", { forceZip64: true }), parts));
    expect(run("unzip", ["-t", file]).toString()).toMatch(/No errors detected/);
    expectSameBytes(run("unzip", ["-p", file]), whole);
  });

  it("stores the UTF-8 file name and the modification time", () => {
    const make = () => zipCompressor("données 🦀.csv", { modifiedAt: new Date(Date.UTC(2026, 10, 25, 13, 45, 30)) });
    const file = save("names.zip", compress(make, parts));
    expect(run("unzip", ["-Z1", file]).toString().trim()).toBe("données 🦀.csv");
    expect(run("unzip", ["-Z", "-l", "-T", file]).toString()).toMatch(/20261125\.134530/);
  });

  it("an empty file is a valid archive", () => {
    const file = save("empty.zip", compress(() => zipCompressor("empty.csv"), []));
    expect(run("unzip", ["-t", file]).toString()).toMatch(/No errors detected/);
    expect(run("unzip", ["-p", file]).length).toBe(0);
  });

  it("an empty gzip file is valid", () => {
    const file = save("empty.gz", produce(body({ format: { type: "ndjson" }, compression: "gzip" }), COLUMNS, []));
    run("gzip", ["-t", file]);
    expect(run("gunzip", ["-c", file]).length).toBe(0);
    expect(readFileSync(file).length).toBeGreaterThan(10);
  });
});
