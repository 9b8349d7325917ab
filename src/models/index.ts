import { eventModels } from "./events";
import { loyaltyModels } from "./loyalty";
import { personaModels } from "./personas";
import type { FieldDef, ModelDef } from "./types";

export type { FieldDef, FieldType, ModelDef } from "./types";
export { CUSTOM_COLUMN, CUSTOM_FIELD_TYPES, MAX_CUSTOM_FIELDS, customFieldNameIssue, withCustomFields } from "./custom";
export type { CustomFieldDef, CustomFieldType } from "./custom";

/** Every model, in catalog order. The only place models are listed. */
export const MODELS: readonly ModelDef[] = [...eventModels, ...loyaltyModels, ...personaModels];

const byName = new Map(MODELS.map((m) => [m.name, m]));

export function getModel(name: string): ModelDef | undefined {
  return byName.get(name);
}

export function getField(model: ModelDef, name: string): FieldDef | undefined {
  return model.fields.find((f) => f.name === name);
}
