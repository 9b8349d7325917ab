import { getModel } from "../../models";
import type { ModelDef } from "../../models";

/** The CSV upload routes and the catalog model each one feeds. */
export const CSV_MODELS = { kpis: "kpis", "survey-data": "survey_responses" } as const;
export type CsvRoute = keyof typeof CSV_MODELS;

export function csvModel(route: CsvRoute): ModelDef {
  const model = getModel(CSV_MODELS[route]);
  if (!model) throw new Error(`model ${CSV_MODELS[route]} missing from the catalog`);
  return model;
}

export type HeaderCheck = { ok: true; columns: string[] } | { ok: false; message: string };

/**
 * Maps a header row to the model's fields: names are matched case-insensitively after trimming;
 * every column must be a field, no field may appear twice, and every required field must be there
 * (a field with a default, like a timestamp that defaults to the ingestion time, may be left out).
 */
export function checkHeader(model: ModelDef, header: string[]): HeaderCheck {
  const byLower = new Map(model.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const expected = model.fields.map((f) => f.name).join(",");
  const columns: string[] = [];
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const raw of header) {
    const name = byLower.get(raw.trim().toLowerCase());
    if (!name) unknown.push(raw === "" ? "(empty)" : raw);
    else if (seen.has(name)) return { ok: false, message: `The header names the column '${name}' twice; expected the columns ${expected}` };
    else {
      seen.add(name);
      columns.push(name);
    }
  }
  if (unknown.length) {
    return {
      ok: false,
      message: `The header has column${unknown.length > 1 ? "s" : ""} that ${model.name} does not know: ${unknown.map((u) => `'${u}'`).join(", ")}; expected the columns ${expected}`,
    };
  }
  const missing = model.fields
    .filter((f) => f.required && !seen.has(f.name) && !(f as { default?: string }).default)
    .map((f) => f.name);
  if (missing.length) {
    return { ok: false, message: `The header lacks the required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; expected the columns ${expected}` };
  }
  return { ok: true, columns };
}

/** One CSV record as an item keyed by field name, cells as text (validated with source "text"). */
export function recordToItem(columns: readonly string[], cells: readonly string[]): Record<string, string> {
  const item: Record<string, string> = {};
  for (let i = 0; i < columns.length; i++) item[columns[i] as string] = cells[i] ?? "";
  return item;
}
