import type { Row } from "../../src/exports/types";

/** Text that breaks naive writers: quotes, delimiters, line breaks, non-BMP, combining marks, RTL, NUL-free controls. */
export const TRICKY = [
  "plain",
  "",
  'say "hi"',
  "a,b",
  "pipe|and\ttab",
  "line1\nline2",
  "crlf\r\nend",
  "lone\rcr",
  " leading and trailing ",
  "ünïcödé ß — “quotes” ‘single’",
  "日本語のテキスト",
  "emoji 🦀👩‍👩‍👧‍👦 flags 🇫🇷",
  "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and U+10FFFF \u{10FFFF}",
  "e\u0301 combining, \u200b zero width, \ufeff bom inside",
  "RTL עברית العربية",
  "<tag attr='x'>&amp; ]]> </tag>",
  "=SUM(A1:A2)",
  "+1+2",
  "-2+3",
  "@cmd",
  "\tstarts with tab",
  "\rstarts with cr",
  "-12.5",
  "'already quoted",
];

export const COLUMNS = ["id", "name", "amount", "note"];

/** `n` rows cycling through TRICKY, with numbers and nulls. */
export function rows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `row_${i}`,
    name: TRICKY[i % TRICKY.length] ?? "",
    amount: i % 7 === 3 ? null : i % 2 === 0 ? i * 1.25 : -i,
    note: i % 5 === 0 ? null : TRICKY[(i * 7) % TRICKY.length] ?? "",
  }));
}
