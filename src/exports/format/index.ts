import type { CustomFieldDef } from "../../models";
import type { ExportBody } from "../definition";
import type { Formatter } from "../types";
import { columnTypesFor, txtWidthsFor } from "./column-types";
import { fixedWidthFormatter } from "./fixed";
import { delimitedFormatter } from "./delimited";
import { jsonFormatter, ndjsonFormatter } from "./json";
import { type ColumnType, parquetFormatter } from "./parquet";
import { xmlFormatter } from "./xml";

export { FormatError } from "./delimited";
export type { ColumnType } from "./parquet";
export { columnTypesFor, TXT_WIDTHS, txtWidthsFor } from "./column-types";

/** The delimiter each delimited type uses; only csv lets the definition choose another. */
export const FIXED_DELIMITERS = { csv: ",", psv: "|", tsv: "\t" } as const;

/**
 * The formatter for an export definition. `columns` are the output column names in order
 * (the compiler's `columns`); rows are looked up by these names. `types` is used by parquet
 * only (its schema); by default it comes from the model catalog (columnTypesFor), and a
 * column without a type is written as a UTF-8 string. `customFields` are the tenant's custom
 * fields on the model, which parquet types and txt widths are taken from too.
 */
export function formatterFor(
  def: ExportBody,
  columns: string[],
  types?: Partial<Record<string, ColumnType>>,
  customFields: readonly CustomFieldDef[] = [],
): Formatter {
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
      return jsonFormatter(jsonRootKey(def.name), columns);
    case "ndjson":
      return ndjsonFormatter(columns);
    case "xml":
      return xmlFormatter(def.name, columns);
    case "parquet":
      return parquetFormatter(columns, types ?? columnTypesFor(def, customFields));
    case "txt":
      return fixedWidthFormatter(columns, { widths: txtWidthsFor(def, customFields), newline: f.newline ?? "\n", header: f.header ?? true });
  }
}

/**
 * The top-level key of a json export: the export's name with `-` and `.` as `_`, as in the
 * automated exports reference (`win-info` is delivered as `{ "win_info": [ ... ] }`).
 */
export const jsonRootKey = (name: string) => name.replace(/[-.]/g, "_");
