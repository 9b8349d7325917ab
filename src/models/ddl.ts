import { CUSTOM_COLUMN } from "./custom";
import { MODELS } from "./index";
import type { FieldType, ModelDef } from "./types";

const SQL_TYPE: Record<FieldType, string> = {
  string: "TEXT",
  integer: "INTEGER",
  float: "REAL",
  boolean: "INTEGER",
  timestamp: "TEXT",
  date: "TEXT",
  params: "TEXT",
};

/**
 * The storage DDL of one model on a data shard: the model's fields plus row_id
 * (keyset pagination), tenant_id and ingested_at; an index on tenant + time (exports,
 * incremental exports, chunked user-data deletion); an index on tenant + user only where the
 * model says why it is read per user (`userIndex`); a unique key for entity upserts.
 */
export function modelDdl(model: ModelDef): string[] {
  const cols = [
    "  row_id INTEGER PRIMARY KEY",
    "  tenant_id TEXT NOT NULL",
    "  ingested_at INTEGER NOT NULL",
    ...model.fields.map((f) => `  ${f.name} ${SQL_TYPE[f.type]}${f.required && !f.storedNullable ? " NOT NULL" : ""}`),
    ...(model.customFields ? [`  ${CUSTOM_COLUMN} TEXT`] : []),
  ];
  const out = [`CREATE TABLE ${model.name} (\n${cols.join(",\n")}\n);`];
  const time = model.timeField ?? "ingested_at";
  out.push(`CREATE INDEX ${model.name}_tenant_time ON ${model.name} (tenant_id, ${time}, row_id);`);
  if (model.userField && model.userIndex) out.push(`CREATE INDEX ${model.name}_tenant_user ON ${model.name} (tenant_id, ${model.userField});`);
  if (model.kind === "entity" && model.key?.length) {
    out.push(`CREATE UNIQUE INDEX ${model.name}_tenant_key ON ${model.name} (tenant_id, ${model.key.join(", ")});`);
  }
  return out;
}

/** The columns of a model's table, in order: system columns, the catalog fields, then `custom_fields` where the model has them. */
export function storedColumns(model: ModelDef): string[] {
  return ["row_id", "tenant_id", "ingested_at", ...model.fields.map((f) => f.name), ...(model.customFields ? [CUSTOM_COLUMN] : [])];
}

export function catalogDdl(): string {
  return MODELS.map((m) => modelDdl(m).join("\n")).join("\n\n");
}
