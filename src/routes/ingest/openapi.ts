import type { OpenAPIHono } from "@hono/zod-openapi";
// Adds .openapi() to zod's schemas before the ones below are built.
import "@hono/zod-openapi";
import * as z from "zod";
import type { AppEnv } from "../../app-env";
import type { FieldDef, ModelDef } from "../../models";

/**
 * OpenAPI descriptions of the ingestion routes, generated from the model catalog. They document
 * only: requests are checked by validateItems (src/ingest/batch), built from the same catalog.
 */
function fieldSchema(f: FieldDef) {
  const base =
    f.type === "integer"
      ? z.number().int()
      : f.type === "float"
        ? z.number()
        : f.type === "boolean"
          ? z.boolean()
          : f.type === "params"
            ? z.array(z.object({ key: z.string(), value: z.string() }))
            : f.values
              ? z.enum([...f.values, ...Object.keys(f.aliases ?? {})] as [string, ...string[]])
              : z.string();
  const described = base.openapi({ description: f.description });
  return f.required ? described : described.optional();
}

export function itemSchema(model: ModelDef) {
  return z.object(Object.fromEntries(model.fields.map((f) => [f.name, fieldSchema(f)]))).openapi(`Ingest_${model.name}`);
}

export const Envelope = z
  .object({ code: z.number().int(), message: z.string(), data: z.unknown().nullable() })
  .openapi("IngestResponse", { description: "`{ code, message, data }`, code = HTTP status" });

const idempotencyHeader = z.object({
  "idempotency-key": z.string().optional().openapi({ description: "Replays the stored response for 24 hours (see docs/ingestion.md)" }),
});

const responses = (ok: number, what: string) => ({
  [ok]: { description: what, content: { "application/json": { schema: Envelope } } },
  400: { description: "Invalid body; `data.errors` lists `{ index, field, reason }`", content: { "application/json": { schema: Envelope } } },
  401: { description: "Missing or invalid API key", content: { "application/json": { schema: Envelope } } },
  409: { description: "Same Idempotency-Key still in flight", content: { "application/json": { schema: Envelope } } },
  422: { description: "Idempotency-Key reused for a different request", content: { "application/json": { schema: Envelope } } },
});

/** Documents `POST <path>` taking `{ "<key>": [ items of model ] }`. */
export function documentBatch(router: OpenAPIHono<AppEnv>, path: string, key: string, model: ModelDef, summary: string) {
  router.openAPIRegistry.registerPath({
    method: "post",
    path,
    tags: ["ingestion"],
    summary,
    security: [{ apiKey: [] }],
    request: {
      headers: idempotencyHeader,
      body: { content: { "application/json": { schema: z.object({ [key]: z.array(itemSchema(model)).min(1).max(1000) }) } } },
    },
    responses: responses(201, "`N <noun> have been successfully ingested`"),
  });
}

export function documentRoute(
  router: OpenAPIHono<AppEnv>,
  def: { method: "get" | "post"; path: string; summary: string; body?: z.ZodType; query?: z.ZodObject; params?: z.ZodObject; ok: number },
) {
  router.openAPIRegistry.registerPath({
    method: def.method,
    path: def.path,
    tags: ["ingestion"],
    summary: def.summary,
    security: [{ apiKey: [] }],
    request: {
      ...(def.method === "post" ? { headers: idempotencyHeader } : {}),
      ...(def.query ? { query: def.query } : {}),
      ...(def.params ? { params: def.params } : {}),
      ...(def.body ? { body: { content: { "application/json": { schema: def.body } } } } : {}),
    },
    responses: responses(def.ok, "Done"),
  });
}
