import type * as z from "zod";
import { AGGREGATIONS, COMPRESSIONS, FORMATS } from "../exports/definition";
import { MODELS } from "../models";
import { AGGREGATIONS_BY_TYPE, OPERATORS_BY_TYPE } from "../models/operators";
import { isSecret } from "../lib/secrets";
import { DeliveryTarget } from "../targets/config";

/**
 * What the new-export wizard needs to know, taken from the same sources the API validates
 * against: the model catalog (src/models), the operators per field type
 * (src/models/operators.ts) and the target schemas (src/targets/config.ts). Sent to the page
 * as JSON, so the wizard never offers what the API would refuse.
 */

export interface TargetFieldSpec {
  name: string;
  /** json: an object (a GCS service-account key file), edited as its JSON text */
  type: "string" | "number" | "boolean" | "json";
  required: boolean;
  default?: unknown;
  description?: string;
  secret: boolean;
  multiline: boolean;
}

type AnyZod = z.ZodType & { def: { type: string; innerType?: AnyZod; defaultValue?: unknown }; description?: string };

function unwrap(s: AnyZod): { inner: AnyZod; required: boolean; dflt: unknown; description?: string } {
  let cur = s;
  let required = true;
  let dflt: unknown;
  let description = s.description;
  while (cur.def.type === "default" || cur.def.type === "optional") {
    if (cur.def.type === "default") dflt = typeof cur.def.defaultValue === "function" ? (cur.def.defaultValue as () => unknown)() : cur.def.defaultValue;
    required = false;
    cur = cur.def.innerType as AnyZod;
    description ??= cur.description;
  }
  return { inner: cur, required, dflt, ...(description ? { description } : {}) };
}

export function targetFieldSpecs(): Record<string, TargetFieldSpec[]> {
  const out: Record<string, TargetFieldSpec[]> = { download: [] };
  for (const option of DeliveryTarget.options) {
    const shape = (option as unknown as { shape: Record<string, AnyZod> }).shape;
    const type = (shape.type as unknown as { def: { values: string[] } }).def.values[0] as string;
    out[type] = Object.entries(shape)
      .filter(([k]) => k !== "type")
      .map(([name, schema]) => {
        const u = unwrap(schema);
        const t = u.inner.def.type;
        return {
          name,
          type: t === "number" ? "number" : t === "boolean" ? "boolean" : t === "object" ? "json" : "string",
          required: u.required,
          ...(u.dflt !== undefined ? { default: u.dflt } : {}),
          ...(u.description ? { description: u.description } : {}),
          secret: isSecret(schema),
          multiline: name === "private_key" || t === "object",
        } satisfies TargetFieldSpec;
      });
  }
  return out;
}

export function wizardCatalog() {
  return {
    models: MODELS.map((m) => ({
      name: m.name,
      title: m.title,
      description: m.description,
      fields: m.fields.map((f) => ({
        name: f.name,
        type: f.type,
        required: f.required,
        values: f.values ?? null,
        description: f.description,
        operators: OPERATORS_BY_TYPE[f.type],
      })),
    })),
    operatorsByType: OPERATORS_BY_TYPE,
    aggregationsByType: AGGREGATIONS_BY_TYPE,
    aggregations: AGGREGATIONS,
    formats: FORMATS,
    compressions: COMPRESSIONS,
    targets: targetFieldSpecs(),
  };
}
export type WizardCatalog = ReturnType<typeof wizardCatalog>;
