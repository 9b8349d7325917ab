import { createRoute, z } from "@hono/zod-openapi";
import { notFound } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { readReplica } from "../../middleware/d1-session";
import { MODELS, getModel } from "../../models";
import type { ModelDef } from "../../models";
import { AGGREGATIONS_BY_TYPE, OPERATORS_BY_TYPE } from "../../models/operators";

const Field = z.object({
  name: z.string(),
  type: z.string(),
  required: z.boolean(),
  values: z.array(z.string()).nullable(),
  description: z.string(),
  operators: z.array(z.string()).openapi({ description: "filter operators this field takes in export definitions" }),
  aggregations: z.array(z.string()).openapi({ description: "aggregations this field takes in export definitions" }),
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
  fields: z.array(Field),
});

const summary = (m: ModelDef) => ({
  name: m.name,
  title: m.title,
  family: m.family,
  kind: m.kind,
  description: m.description,
});

export const modelsRouter = createRouter();
// Read-only: a read replica serves it (docs/architecture.md, "Read replicas").
modelsRouter.use("*", readReplica(), requireToken(null));

modelsRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["models"],
    summary: "List the data models",
    security: [{ bearerAuth: [] }],
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
    request: { params: z.object({ name: z.string().openapi({ example: "participations" }) }) },
    responses: { 200: { description: "Model", content: { "application/json": { schema: Model } } } },
  }),
  (c) => {
    const m = getModel(c.req.valid("param").name);
    if (!m) throw notFound(`Model '${c.req.valid("param").name}'`);
    return c.json(
      {
        ...summary(m),
        key: m.key ? [...m.key] : null,
        time_field: m.timeField ?? null,
        fields: m.fields.map((f) => ({
          name: f.name,
          type: f.type,
          required: f.required,
          values: f.values ? [...f.values] : null,
          description: f.description,
          operators: [...OPERATORS_BY_TYPE[f.type]],
          aggregations: [...AGGREGATIONS_BY_TYPE[f.type]],
        })),
      },
      200,
    );
  },
);
