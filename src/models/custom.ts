import { SYSTEM_COLUMNS } from "./types";
import type { FieldDef, FieldType, ModelDef } from "./types";

/**
 * Custom fields: fields a tenant adds to a model that allows them (`customFields`, members).
 * The definitions live in the control DB (`custom_fields`, src/db/custom-fields.ts); the values
 * live on the data shard in the model's one extra column, `custom_fields`, a JSON object keyed
 * by field name. `withCustomFields` gives the tenant's view of the model: the catalog fields,
 * then the custom ones marked `custom`, which validation, ingestion and the export compiler
 * treat like any other field.
 */

/** The JSON column that holds the custom values of a row. */
export const CUSTOM_COLUMN = "custom_fields";

/** Types a custom field may take (params has keys of its own, so it is not one). */
export const CUSTOM_FIELD_TYPES = ["string", "integer", "float", "boolean", "timestamp", "date"] as const satisfies readonly FieldType[];
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];

/** Most custom fields per tenant and model: each is a bound JSON path in an export query (D1: 100 parameters). */
export const MAX_CUSTOM_FIELDS = 50;

/** A custom field name: snake_case, starting with a letter, like the catalog's own. */
export const CUSTOM_FIELD_NAME = /^[a-z][a-z0-9_]{0,62}$/;

export interface CustomFieldDef {
  name: string;
  type: CustomFieldType;
  description: string;
}

/** Why `name` cannot be a custom field of `model`; null when it can. */
export function customFieldNameIssue(model: ModelDef, name: string): string | null {
  if (!CUSTOM_FIELD_NAME.test(name)) return `'${name}' is not a field name: use 1 to 63 lower-case letters, digits and _, starting with a letter`;
  if (model.fields.some((f) => f.name === name)) return `'${name}' is a built-in field of ${model.name}; choose another name`;
  if ((SYSTEM_COLUMNS as readonly string[]).includes(name) || name === CUSTOM_COLUMN) return `'${name}' is reserved; choose another name`;
  return null;
}

const views = new WeakMap<ModelDef, Map<string, ModelDef>>();

/**
 * The model with the tenant's custom fields appended. The same definitions give the same object,
 * so the validators and SQL compiled per model object are reused.
 */
export function withCustomFields(model: ModelDef, defs: readonly CustomFieldDef[]): ModelDef {
  if (!model.customFields || defs.length === 0) return model;
  const key = JSON.stringify(defs.map((d) => [d.name, d.type, d.description]));
  let byKey = views.get(model);
  if (!byKey) {
    byKey = new Map();
    views.set(model, byKey);
  }
  let view = byKey.get(key);
  if (!view) {
    const extra: FieldDef[] = defs.map((d) => ({ name: d.name, type: d.type, required: false, description: d.description, custom: true }));
    view = { ...model, fields: [...model.fields, ...extra] };
    if (byKey.size > 1000) byKey.clear();
    byKey.set(key, view);
  }
  return view;
}
