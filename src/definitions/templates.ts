import * as z from "zod";
import { type Condition, ExportBody, FormatSpec, Notification, Schedule, Target } from "../exports/definition";
import { ApiError } from "../lib/errors";
import type { Services } from "../services";
import { createExport, type ExportRecord } from "./definitions";

/**
 * Templates ("rapid exports" in the reference: "precise and concrete export of your operation",
 * no field configuration): ready definitions per model family, created in one call with a few
 * parameters. A template only builds an ExportBody; creating it is the definitions service's
 * createExport, so a definition made from a template is validated, stored, scheduled and run
 * exactly like one posted to /api/1/exports.
 */

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a day as YYYY-MM-DD (UTC)");

/** Parameters every template takes: the new definition's name and the parts worth choosing. */
const Common = {
  name: ExportBody.shape.name.optional().describe("the new definition's name; default: the template id"),
  format: FormatSpec.optional().describe("file format; default csv"),
  schedule: Schedule.optional().describe("when it runs; default per template"),
  target: Target.optional().describe("where the file goes; default download"),
  notification: Notification.optional().describe("webhook and/or email when a run finishes or fails"),
};

interface Template<P extends z.ZodRawShape> {
  id: string;
  name: string;
  family: "loyalty" | "events";
  model: string;
  description: string;
  params: P;
  build(p: z.infer<z.ZodObject<P>>): { fields: { from: string; to?: string }[]; filters: Condition[]; schedule: Schedule };
}

const template = <P extends z.ZodRawShape>(t: Template<P>) => t;

/** [from 00:00:00, to 23:59:59] on `field`, both optional. */
const period = (field: string, from?: string, to?: string): Condition[] => [
  ...(from ? [{ field, op: "gte" as const, value: `${from} 00:00:00` }] : []),
  ...(to ? [{ field, op: "lte" as const, value: `${to} 23:59:59` }] : []),
];

const TEMPLATES = [
  template({
    id: "game-winners",
    name: "Winners of a game",
    family: "loyalty",
    model: "participations",
    description: "Every winning participation of one game instance: user, score, date.",
    params: { game_instance: z.string().min(1).max(200).describe("the game instance (stackinstanceid) whose winners to export") },
    build: (p) => ({
      fields: [{ from: "user_id" }, { from: "stackinstanceid" }, { from: "value" }, { from: "participation_date" }],
      filters: [
        { field: "stackinstanceid", op: "eq", value: p.game_instance },
        { field: "has_won", op: "eq", value: true },
      ],
      schedule: { type: "now" },
    }),
  }),
  template({
    id: "participants",
    name: "Participants over a period",
    family: "loyalty",
    model: "participations",
    description: "Participations between two days (UTC, both included), optionally of one game instance.",
    params: {
      from: Day.describe("first day, YYYY-MM-DD"),
      to: Day.describe("last day, YYYY-MM-DD"),
      game_instance: z.string().min(1).max(200).optional().describe("only this game instance (stackinstanceid)"),
    },
    build: (p) => ({
      fields: [{ from: "user_id" }, { from: "stackinstanceid" }, { from: "value" }, { from: "has_won" }, { from: "has_completed" }, { from: "participation_date" }],
      filters: [...period("participation_date", p.from, p.to), ...(p.game_instance ? [{ field: "stackinstanceid", op: "eq" as const, value: p.game_instance }] : [])],
      schedule: { type: "now" },
    }),
  }),
  template({
    id: "campaign-results",
    name: "Campaign results",
    family: "loyalty",
    model: "campaign_executions",
    description:
      "The effects a campaign gave members. With campaign_code: that campaign, now. Without: every campaign's own results when it ends (schedule operation_end).",
    params: { campaign_code: z.string().min(1).max(200).optional().describe("one campaign; leave out to export each campaign when it ends") },
    build: (p) => ({
      fields: [{ from: "campaign_code" }, { from: "customer_id" }, { from: "effect" }, { from: "value" }, { from: "executed_at" }],
      filters: p.campaign_code ? [{ field: "campaign_code", op: "eq", value: p.campaign_code }] : [],
      schedule: p.campaign_code ? { type: "now" } : { type: "operation_end" },
    }),
  }),
  template({
    id: "new-members",
    name: "Members who joined over a period",
    family: "loyalty",
    model: "members",
    description: "Members created between two days (UTC, both included).",
    params: { from: Day.describe("first day, YYYY-MM-DD"), to: Day.describe("last day, YYYY-MM-DD") },
    build: (p) => ({
      fields: [{ from: "customer_id" }, { from: "email" }, { from: "first_name" }, { from: "last_name" }, { from: "tier" }, { from: "created_at" }],
      filters: period("created_at", p.from, p.to),
      schedule: { type: "now" },
    }),
  }),
  template({
    id: "purchases",
    name: "Purchases over a period",
    family: "events",
    model: "purchases",
    description: "Real-money purchases between two days (UTC, both included).",
    params: { from: Day.describe("first day, YYYY-MM-DD"), to: Day.describe("last day, YYYY-MM-DD") },
    build: (p) => ({
      fields: [{ from: "timestamp" }, { from: "user_id" }, { from: "item_id" }, { from: "count" }, { from: "price" }],
      filters: period("timestamp", p.from, p.to),
      schedule: { type: "now" },
    }),
  }),
];

type AnyTemplate = (typeof TEMPLATES)[number];

const schemaOf = (t: AnyTemplate) => z.strictObject({ ...t.params, ...Common });

/** One parameter as the list shows it. */
export interface TemplateParameter {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

export interface TemplateInfo {
  id: string;
  name: string;
  family: string;
  model: string;
  description: string;
  parameters: TemplateParameter[];
}

function describeParam(name: string, schema: z.ZodType): TemplateParameter {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { type?: string; description?: string };
  return { name, type: json.type ?? "object", required: !schema.safeParse(undefined).success, description: schema.description ?? json.description ?? "" };
}

export function listTemplates(): TemplateInfo[] {
  return TEMPLATES.map((t) => ({
    id: t.id,
    name: t.name,
    family: t.family,
    model: t.model,
    description: t.description,
    parameters: Object.entries({ ...t.params, ...Common } as Record<string, z.ZodType>).map(([k, v]) => describeParam(k, v)),
  }));
}

/** The definition a template makes from its parameters (validated: a bad one is a 400 naming it). */
export function templateDefinition(id: string, params: unknown): ExportBody {
  const t = TEMPLATES.find((x) => x.id === id);
  if (!t) throw new ApiError("not_found", `Template '${id}' not found; GET /api/1/exports/templates lists them`);
  const parsed = schemaOf(t).safeParse(params ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(root)", message: i.message }));
    const first = details[0];
    throw new ApiError("validation_failed", `Invalid parameters for template '${id}': ${first ? `${first.path}: ${first.message}` : "unknown"}`, { details });
  }
  const p = parsed.data as z.infer<ReturnType<typeof schemaOf>>;
  const built = (t.build as (x: unknown) => ReturnType<AnyTemplate["build"]>)(p);
  return ExportBody.parse({
    name: p.name ?? t.id,
    model: t.model,
    fields: built.fields,
    filters: built.filters.length ? [built.filters] : [],
    format: p.format ?? { type: "csv" },
    schedule: p.schedule ?? built.schedule,
    target: p.target ?? { type: "download" },
    ...(p.notification ? { notification: p.notification } : {}),
  });
}

/** Creates a real definition from a template, through createExport (answers like POST /api/1/exports). */
export function createFromTemplate(s: Services, tenantId: string, createdBy: string, id: string, params: unknown): Promise<ExportRecord> {
  return createExport(s, tenantId, createdBy, templateDefinition(id, params));
}
