import { listCustomFields, replaceCustomFields } from "../db/custom-fields";
import { ApiError, type ErrorDetail } from "../lib/errors";
import { CUSTOM_FIELD_TYPES, MAX_CUSTOM_FIELDS, MODELS, customFieldNameIssue, getModel, withCustomFields } from "../models";
import type { CustomFieldDef, CustomFieldType, ModelDef } from "../models";
import type { Services } from "../services";

/**
 * A tenant's custom fields (src/models/custom.ts): defined here, stored in the control DB
 * (src/db/custom-fields.ts), used by ingestion, the export compiler and the model API through
 * `tenantModel`, the tenant's view of a catalog model.
 */

/** The tenant's custom fields on `model`; none when the model does not allow them. */
export async function customFieldDefs(s: Pick<Services, "db">, tenantId: string, model: ModelDef): Promise<CustomFieldDef[]> {
  if (!model.customFields) return [];
  const rows = await listCustomFields(s.db, tenantId, model.name);
  return rows.map((r) => ({ name: r.name, type: r.type as CustomFieldType, description: r.description }));
}

/** The tenant's custom fields on the model named `name` (an export definition's model); none for an unknown model. */
export async function customFieldsOf(s: Pick<Services, "db">, tenantId: string, name: string): Promise<CustomFieldDef[]> {
  const model = getModel(name);
  return model ? customFieldDefs(s, tenantId, model) : [];
}

/**
 * `model` as the tenant sees it: the catalog fields, then the tenant's custom fields. Read from
 * the control DB on every call, on purpose: a change of the fields applies to the next batch.
 * No query of a `/v1` batch could carry it instead (the credential lookup is cached per isolate
 * for 30 s; the rest go to the shard), and a cache would delay a change by its lifetime.
 */
export async function tenantModel(s: Pick<Services, "db">, tenantId: string, model: ModelDef): Promise<ModelDef> {
  return model.customFields ? withCustomFields(model, await customFieldDefs(s, tenantId, model)) : model;
}

export interface CustomFieldInput {
  name: string;
  type: string;
  description?: string | undefined;
}

/**
 * Replaces the tenant's custom fields on `model` (the whole list: a field left out is removed).
 * Stored values are kept as they are: a removed field's values are no longer read, exported or
 * filtered on, and come back if the field is defined again; a member ingested afterwards is
 * stored with the fields defined then.
 */
export async function putCustomFields(s: Services, tenantId: string, model: ModelDef, input: readonly CustomFieldInput[]): Promise<CustomFieldDef[]> {
  if (!model.customFields) {
    throw new ApiError("bad_request", `Model '${model.name}' takes no custom fields; these do: ${MODELS.filter((m) => m.customFields).map((m) => m.name).join(", ")}`);
  }
  const issues: ErrorDetail[] = [];
  if (input.length > MAX_CUSTOM_FIELDS) issues.push({ path: "fields", message: `at most ${MAX_CUSTOM_FIELDS} custom fields per model, got ${input.length}` });
  const seen = new Set<string>();
  input.forEach((f, i) => {
    const nameIssue = customFieldNameIssue(model, f.name);
    if (nameIssue) issues.push({ path: `fields.${i}.name`, message: nameIssue });
    else if (seen.has(f.name)) issues.push({ path: `fields.${i}.name`, message: `'${f.name}' is listed twice` });
    seen.add(f.name);
    if (!(CUSTOM_FIELD_TYPES as readonly string[]).includes(f.type)) {
      issues.push({ path: `fields.${i}.type`, message: `'${f.type}' is not a custom field type; use one of ${CUSTOM_FIELD_TYPES.join(", ")}` });
    }
  });
  const first = issues[0];
  if (first) throw new ApiError("validation_failed", `Invalid custom fields: ${first.path}: ${first.message}`, { details: issues });
  const now = s.clock.seconds();
  const defs = input.map((f) => ({ name: f.name, type: f.type as CustomFieldType, description: f.description ?? "" }));
  await replaceCustomFields(
    s.db,
    tenantId,
    model.name,
    defs.map((d, position) => ({ tenant_id: tenantId, model: model.name, ...d, position, created_at: now })),
  );
  return defs;
}
