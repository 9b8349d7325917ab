import type { ExportBody } from "../definition";
import type { Formatter } from "../types";
import { delimitedFormatter } from "./delimited";

export { FormatError } from "./delimited";

/** The delimiter each delimited type uses; only csv lets the definition choose another. */
export const FIXED_DELIMITERS = { csv: ",", psv: "|", tsv: "\t" } as const;

/**
 * The formatter for an export definition. `columns` are the output column names in order
 * (the compiler's `columns`); rows are looked up by these names.
 */
export function formatterFor(def: ExportBody, columns: string[]): Formatter {
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
      });
    default:
      throw new Error(`format ${f.type} is not implemented yet`);
  }
}
