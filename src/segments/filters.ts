import { USER_FACTS } from "../db/shards";
import type { Condition } from "../exports/definition";
import { compileFilters } from "../exports/compiler";
import type { ModelDef } from "../models";

/**
 * What segment filters run on: one row per user with trait scores, holding aggregates of the
 * behavioural models. The filter language is the exports' (src/exports/compiler.ts: operators
 * per type, `date:` expressions, AND inside a set and OR between sets); only the fields differ.
 * The SQL of each aggregate is in src/db/shards/segments.ts.
 */
export const SEGMENT_USERS: ModelDef = {
  name: "segment_users",
  title: "Users (segment filters)",
  family: "personas",
  kind: "entity",
  description: "Per-user aggregates of the behavioural models, for segment filters",
  fields: [
    { name: "user_id", type: "string", required: true, description: "The user's id" },
    { name: "country", type: "string", format: "country", required: false, description: "Country of the user's latest login that names one (ISO 3166-1 alpha-2)" },
    { name: "language", type: "string", required: false, description: "Language of the latest login that names one" },
    { name: "platform", type: "string", required: false, description: "Platform of the latest login that names one" },
    { name: "level", type: "integer", required: false, description: "Highest level seen in logins and level-ups" },
    { name: "logins", type: "integer", required: false, description: "Number of logins" },
    { name: "last_login", type: "timestamp", required: false, description: "Time of the latest login" },
    { name: "purchases", type: "integer", required: false, description: "Number of real-money purchases" },
    { name: "purchase_total", type: "float", required: false, description: "Sum of the price of the user's purchases" },
    { name: "last_purchase", type: "timestamp", required: false, description: "Time of the latest purchase" },
    { name: "virtual_purchases", type: "integer", required: false, description: "Number of virtual-currency purchases" },
    { name: "survey_completed", type: "boolean", required: false, description: "Whether a survey response of the user is marked completed" },
  ],
};

for (const f of SEGMENT_USERS.fields) {
  if (f.name !== "user_id" && !USER_FACTS.includes(f.name)) throw new Error(`segment filter field ${f.name} has no SQL in src/db/shards/segments.ts`);
}

export interface CompiledSegmentFilter {
  sql: string;
  params: (string | number | null)[];
  /** the aggregates the filter reads (only these are computed) */
  facts: string[];
}

export interface FilterIssue {
  path: string;
  message: string;
}

/**
 * Compiles a segment's filters; `now` fixes `date:` expressions (a recompute compiles once, at
 * its start). Null `filter` when there is nothing to filter on.
 */
export function compileSegmentFilter(filters: readonly Condition[][], now: Date): { filter: CompiledSegmentFilter | null; issues: FilterIssue[] } {
  const c = compileFilters(SEGMENT_USERS, filters, { now });
  if (c.issues.length || c.sql === null) return { filter: null, issues: c.issues };
  const facts = [...new Set(filters.flat().map((f) => f.field.split(".")[0] as string))].filter((f) => f !== "user_id");
  return { filter: { sql: c.sql, params: c.params, facts }, issues: [] };
}
