import type { Formatter, FormatterState, Row } from "../types";
import { numberText } from "./delimited";
import { utf8 } from "./text";

/**
 * Characters XML 1.0 cannot carry at all, not even as character references.
 * https://www.w3.org/TR/xml/#charsets
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** An element name the column can be written as: an XML NCName that does not start with "xml". */
const NC_NAME = /^(?!xml)[A-Za-z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF][A-Za-z0-9_.\-\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u203F-\u2040]*$/i;

/** Text content: also CR, which a parser would otherwise turn into LF, and `>` so `]]>` never appears. */
function escapeText(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&#13;"));
}

/** Attribute values: also tab and line breaks, which attribute normalisation would turn into spaces. */
function escapeAttr(s: string): string {
  return s.replace(/[&<>"\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function base64Utf8(s: string): string {
  let bin = "";
  for (const b of utf8(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * XML: `<export name="..."><row><column>value</column>...</row>...</export>`.
 *
 * - A column whose name is a valid XML name becomes an element of that name; any other
 *   column is written `<field name="the name">`.
 * - null is an empty element with `xsi:nil="true"`; "" is an empty element.
 * - A value holding characters XML 1.0 cannot represent (most C0 controls, U+FFFE, U+FFFF,
 *   unpaired surrogates) is written as the base64 of its UTF-8 with `encoding="base64"`,
 *   so it still round-trips.
 *
 * Stateless between calls.
 */
export function xmlFormatter(name: string, columns: string[]): Formatter {
  const tags = columns.map((c) =>
    NC_NAME.test(c) ? { open: `<${c}`, close: `</${c}>` } : { open: `<field name="${escapeAttr(c)}"`, close: "</field>" },
  );
  const cell = (i: number, v: string | number | null): string => {
    const t = tags[i] as { open: string; close: string };
    if (v === null) return `${t.open} xsi:nil="true"/>`;
    if (typeof v === "number") return `${t.open}>${numberText(v)}${t.close}`;
    if (NOT_XML_CHAR.test(v)) return `${t.open} encoding="base64">${base64Utf8(v)}${t.close}`;
    return `${t.open}>${escapeText(v)}${t.close}`;
  };
  return {
    contentType: "application/xml; charset=utf-8",
    extension: "xml",
    start(_state: FormatterState) {
      return utf8(
        `<?xml version="1.0" encoding="UTF-8"?>\n<export name="${escapeAttr(name)}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n`,
      );
    },
    rows(rows: Row[], _state: FormatterState) {
      let out = "";
      for (const row of rows) {
        out += "<row>";
        for (let i = 0; i < columns.length; i++) out += cell(i, row[columns[i] as string] ?? null);
        out += "</row>\n";
      }
      return utf8(out);
    },
    finish(_state: FormatterState) {
      return utf8("</export>\n");
    },
  };
}
