import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { ApiError, notFound } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { readReplica } from "../../middleware/d1-session";
import { MODELS, getModel } from "../../models";
import type { ModelDef } from "../../models";
import { CUSTOM_FIELD_TYPES, MAX_CUSTOM_FIELDS } from "../../models";
import { AGGREGATIONS_BY_TYPE, OPERATORS_BY_TYPE } from "../../models/operators";
import { customFieldDefs, putCustomFields, tenantModel } from "../../tenants/custom-fields";

const Field = z.object({
  name: z.string(),
  type: z.string(),
  required: z.boolean(),
  values: z.array(z.string()).nullable(),
  description: z.string(),
  operators: z.array(z.string()).openapi({ description: "filter operators this field takes in export definitions" }),
  aggregations: z.array(z.string()).openapi({ description: "aggregations this field takes in export definitions" }),
  custom: z.boolean().openapi({ description: "one of the tenant's custom fields (GET /api/1/models/{name}/custom-fields)" }),
});
const ModelSummary = z.object({
  name: z.string(),
  title: z.string(),
  family: z.enum(["events", "loyalty", "personas"]),
  kind: z.enum(["event", "entity"]),
  description: z.string(),
});
const Model = ModelSummary.extend({
  key: z.array(z.string()).nullable(),
  time_field: z.string().nullable(),
  formats: z.array(z.string()).nullable().openapi({ description: "the only export formats this model takes; null when it takes every format" }),
  custom_fields: z.boolean().openapi({ description: "whether the tenant may add custom fields to this model" }),
  fields: z.array(Field),
});

const CustomField = z.object({
  name: z.string().openapi({ example: "shoe_size", description: "snake_case, not a built-in field name" }),
  type: z.enum(CUSTOM_FIELD_TYPES),
  description: z.string(),
});
const CustomFields = z.object({ model: z.string(), fields: z.array(CustomField) });
const CustomFieldsBody = z
  .object({
    fields: z
      .array(
        z
          .object({
            name: z.string().min(1).max(63),
            type: z.string().openapi({ description: `one of ${CUSTOM_FIELD_TYPES.join(", ")}` }),
            description: z.string().max(500).optional(),
          })
          .strict(),
      )
      .max(MAX_CUSTOM_FIELDS),
  })
  .strict();
const NameParam = z.object({ name: z.string().openapi({ example: "members" }) });

function modelOr404(name: string): ModelDef {
  const m = getModel(name);
  if (!m) throw notFound(`Model '${name}'`);
  return m;
}

const summary = (m: ModelDef) => ({
  name: m.name,
  title: m.title,
  family: m.family,
  kind: m.kind,
  description: m.description,
});

export const modelsRouter = createRouter();
const auth = requireToken(null);
/** The reads: a read replica serves them (docs/architecture.md, "Read replicas"); the PUT goes to the primary. */
const replica = readReplica();

modelsRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["models"],
    summary: "List the data models",
    security: [{ bearerAuth: [] }],
    middleware: [replica, auth] as const,
    responses: { 200: { description: "Models", content: { "application/json": { schema: z.object({ models: z.array(ModelSummary) }) } } } },
  }),
  (c) => c.json({ models: MODELS.map(summary) }, 200),
);

modelsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{name}",
    tags: ["models"],
    summary: "One model with its fields (name, type, required, enum values, description)",
    security: [{ bearerAuth: [] }],
    middleware: [replica, auth] as const,
    request: { params: z.object({ name: z.string().openapi({ example: "participations" }) }) },
    responses: { 200: { description: "Model", content: { "application/json": { schema: Model } } } },
  }),
  async (c) => {
    const m = await tenantModel(c.var.services, c.get("principal").tenantId, modelOr404(c.req.valid("param").name));
    return c.json(
      {
        ...summary(m),
        key: m.key ? [...m.key] : null,
        time_field: m.timeField ?? null,
        formats: m.formats ? [...m.formats] : null,
        custom_fields: m.customFields === true,
        fields: m.fields.map((f) => ({
          name: f.name,
          type: f.type,
          required: f.required,
          values: f.values ? [...f.values] : null,
          description: f.description,
          operators: [...OPERATORS_BY_TYPE[f.type]],
          aggregations: [...AGGREGATIONS_BY_TYPE[f.type]],
          custom: f.custom === true,
        })),
      },
      200,
    );
  },
);

modelsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{name}/custom-fields",
    tags: ["models"],
    summary: "The tenant's custom fields on a model (members)",
    security: [{ bearerAuth: [] }],
    middleware: [replica, auth] as const,
    request: { params: NameParam },
    responses: { 200: { description: "Custom fields, in order", content: { "application/json": { schema: CustomFields } } } },
  }),
  async (c) => {
    const m = modelOr404(c.req.valid("param").name);
    return c.json({ model: m.name, fields: await customFieldDefs(c.var.services, c.get("principal").tenantId, m) }, 200);
  },
);

modelsRouter.openapi(
  createRoute({
    method: "put",
    path: "/{name}/custom-fields",
    tags: ["models"],
    summary: "Replace the tenant's custom fields on a model (permission exports-manage)",
    description:
      "The whole list: a field left out is removed (its stored values stay, unread, and come back if it is defined again). Members ingested through POST /v1/records/members may then carry these fields beside the built-in ones; exports filter on and write them like built-in fields.",
    security: [{ bearerAuth: [] }],
    middleware: [auth] as const,
    request: { params: NameParam, body: { required: true, content: { "application/json": { schema: CustomFieldsBody } } } },
    responses: { 200: { description: "Custom fields, as stored", content: { "application/json": { schema: CustomFields } } } },
  }),
  async (c) => {
    const principal = c.get("principal");
    if (!principal.permissions.includes("exports-manage")) throw new ApiError("forbidden", "This client lacks the 'exports-manage' permission");
    const m = modelOr404(c.req.valid("param").name);
    const fields = await putCustomFields(c.var.services, principal.tenantId, m, c.req.valid("json").fields);
    return c.json({ model: m.name, fields }, 200);
  },
);
