import type { ExportBody } from "../definition";
import type { Formatter } from "../types";
import type { CustomFieldDef } from "../../models";
import { txtWidthsFor } from "./column-types";
import { delimitedFormatter } from "./delimited";
import { fixedWidthFormatter } from "./fixed";
import { jsonFormatter, ndjsonFormatter } from "./json";
import { xmlFormatter } from "./xml";

/** The delimiter each delimited type uses; only csv lets the definition choose another. */
export const FIXED_DELIMITERS = { csv: ",", psv: "|", tsv: "\t" } as const;

/** Parquet's media type, here so that a preview can name it without loading the Parquet writer. */
export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

/**
 * The formatter of every format that writes text, or null for parquet (binary; ./index's
 * formatterFor adds it). Kept apart from ./index so that the API worker's preview does not
 * bundle the Parquet writer (docs/architecture.md, "Two workers").
 */
export function textFormatterFor(def: ExportBody, columns: string[], customFields: readonly CustomFieldDef[] = []): Formatter | null {
  const f = def.format;
  switch (f.type) {
    case "csv":
    case "psv":
    case "tsv":
      return delimitedFormatter(columns, {
        type: f.type,
        delimiter: f.type === "csv" ? (f.delimiter ?? FIXED_DELIMITERS.csv) : FIXED_DELIMITERS[f.type],
        enclosure: f.enclosure ?? '"',
        newline: f.newline ?? "\n",
        header: f.header ?? true,
        formulaProtection: f.formula_protection ?? true,
        bom: f.bom ?? false,
      });
    case "json":
      return jsonFormatter(jsonRootKey(def.name), columns, f.json_values ?? "native");
    case "ndjson":
      return ndjsonFormatter(columns, f.json_values ?? "native");
    case "xml":
      return xmlFormatter(def.name, columns);
    case "txt":
      return fixedWidthFormatter(columns, { widths: txtWidthsFor(def, customFields), newline: f.newline ?? "\n", header: f.header ?? true });
    case "parquet":
      return null;
  }
}

/**
 * The top-level key of a json export: the export's name with `-` and `.` as `_`, as in the
 * automated exports reference (`win-info` is delivered as `{ "win_info": [ ... ] }`).
 */
export const jsonRootKey = (name: string) => name.replace(/[-.]/g, "_");
