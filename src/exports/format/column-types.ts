import { type FieldType, getField, getModel } from "../../models";
import type { ExportBody, FieldSpec } from "../definition";
import type { ColumnType } from "./parquet";

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

function fieldType(def: ExportBody, f: FieldSpec): ColumnType {
  const model = getModel(def.model);
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
export function columnTypesFor(def: ExportBody): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  const model = getModel(def.model);
  if (!model) return out;
  if (def.all_fields) for (const f of model.fields) out[f.name] = fromCatalog(f.type);
  for (const f of def.fields) out[f.to ?? f.from] = fieldType(def, f);
  return out;
}
