import { type CustomFieldDef, type FieldDef, type FieldType, type ModelDef, getField, getModel, withCustomFields } from "../../models";
import type { ExportBody, FieldSpec } from "../definition";
/** Parquet column types the formatter writes; any other catalog type is written as STRING. */
export type ColumnType = "string" | "integer" | "float" | "boolean";

const fromCatalog = (t: FieldType | undefined): ColumnType =>
  t === "integer" ? "integer" : t === "float" ? "float" : t === "boolean" ? "boolean" : "string";

/** A default or replacement value the typed column could not hold makes the column text. */
function fits(type: ColumnType, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (type === "integer") return typeof v === "number" && Number.isSafeInteger(v);
  if (type === "float") return typeof v === "number";
  if (type === "boolean") return v === 0 || v === 1;
  return true;
}

/** The definition's model with the tenant's custom fields, as the compiler sees it. */
function modelOf(def: ExportBody, custom: readonly CustomFieldDef[]): ModelDef | undefined {
  const model = getModel(def.model);
  return model && withCustomFields(model, custom);
}

function fieldType(model: ModelDef | undefined, f: FieldSpec): ColumnType {
  const base = model ? fromCatalog(getField(model, f.from)?.type) : "string";
  let t: ColumnType;
  switch (f.aggregation) {
    case "count":
      t = "integer";
      break;
    case "avg":
      t = "float";
      break;
    case "sum":
      t = base === "integer" ? "integer" : "float";
      break;
    default:
      t = base;
  }
  const values = [f.default, ...(f.replace ?? []).map((r) => r.with)];
  return values.every((v) => fits(t, v)) ? t : "string";
}

/**
 * Parquet column types for an export, from the model catalog: integer, float and boolean
 * fields (and count / sum / avg results) are typed, everything else (text, timestamps,
 * dates, nested params, unknown columns) is a UTF-8 string. A field whose default or
 * replace map writes a value the type cannot hold is a string.
 */
export function columnTypesFor(def: ExportBody, custom: readonly CustomFieldDef[] = []): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  const model = modelOf(def, custom);
  if (!model) return out;
  if (def.all_fields) for (const f of model.fields) out[f.name] = fromCatalog(f.type);
  for (const f of def.fields) out[f.to ?? f.from] = fieldType(model, f);
  return out;
}

/** Characters a value of each kind takes at most, for txt columns without a `width`. */
export const TXT_WIDTHS = {
  /** -9007199254740991 and any safe integer fit in 17; 20 leaves room for a sum */
  integer: 20,
  /** the longest shortest-round-trip double, e.g. -2.2250738585072014e-308 */
  float: 24,
  boolean: 1,
  /** YYYY-MM-DD HH:MM:SS */
  timestamp: 19,
  /** YYYY-MM-DD */
  date: 10,
  /** free text, params (JSON) and nested param values */
  string: 255,
} as const;

function catalogWidth(f: FieldDef | undefined): number {
  if (!f) return TXT_WIDTHS.string;
  if (f.values) return Math.max(...f.values.map((v) => [...v].length));
  if (f.format === "country") return 2;
  if (f.format === "currency") return 3;
  if (f.format === "language") return 35;
  switch (f.type) {
    case "integer":
    case "float":
    case "boolean":
    case "timestamp":
    case "date":
      return TXT_WIDTHS[f.type];
    default:
      return TXT_WIDTHS.string;
  }
}

const chars = (v: unknown) => (v === null || v === undefined ? 0 : [...String(v)].length);

/**
 * Column widths of a txt export, decided from the definition alone so the file can be written
 * chunk by chunk: a field's `width` if it has one; otherwise the widest of its header, its
 * default and replacement values, and what its catalog type holds (TXT_WIDTHS; an enumeration
 * its longest value, a country 2, a currency 3, a language tag 35; count 20, avg 24).
 */
export function txtWidthsFor(def: ExportBody, custom: readonly CustomFieldDef[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  const model = modelOf(def, custom);
  if (def.all_fields && model) for (const f of model.fields) out[f.name] = Math.max(chars(f.name), catalogWidth(f));
  for (const f of def.fields) {
    const name = f.to ?? f.from;
    if (f.width !== undefined) {
      out[name] = f.width;
      continue;
    }
    const field = model ? getField(model, f.from) : undefined;
    const base =
      f.aggregation === "count"
        ? TXT_WIDTHS.integer
        : f.aggregation === "avg"
          ? TXT_WIDTHS.float
          : f.aggregation === "sum"
            ? field?.type === "integer"
              ? TXT_WIDTHS.integer
              : TXT_WIDTHS.float
            : catalogWidth(field);
    out[name] = Math.max(chars(name), base, chars(f.default), ...(f.replace ?? []).map((r) => chars(r.with)));
  }
  return out;
}
