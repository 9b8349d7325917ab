import type { CustomFieldDef } from "../../models";
import type { ExportBody } from "../definition";
import type { Formatter } from "../types";
import { columnTypesFor } from "./column-types";
import type { ColumnType } from "./column-types";
import { parquetFormatter } from "./parquet";
import { textFormatterFor } from "./text-formats";

export { FormatError } from "./delimited";
export type { ColumnType } from "./column-types";
export { columnTypesFor, TXT_WIDTHS, txtWidthsFor } from "./column-types";

export { FIXED_DELIMITERS, jsonRootKey, textFormatterFor } from "./text-formats";

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
  // Every type but parquet writes text.
  return textFormatterFor(def, columns, customFields) ?? parquetFormatter(columns, types ?? columnTypesFor(def, customFields));
}
