import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { MODELS, getModel } from "../../models";
import type { ModelDef } from "../../models";
import { insertRows, validateItems } from "../../ingest/batch";
import { batchItems, envelope, idempotent, itemErrors, readJson, send } from "./envelope";
import { documentBatch } from "./openapi";
import { tenantModel } from "../../tenants/custom-fields";

/**
 * The reference's batch endpoints: path, top-level key and the noun of the success message
 * (`"N <noun> have been successfully ingested"`). Fields come from the catalog.
 */
export const EVENT_ENDPOINTS = [
  { path: "/actions", model: "actions", key: "actions", noun: "actions" },
  { path: "/logins", model: "logins", key: "users", noun: "users" },
  { path: "/purchases", model: "purchases", key: "purchases", noun: "purchases" },
  { path: "/virtual-purchases", model: "virtual_purchases", key: "virtual_purchases", noun: "virtual purchases" },
  { path: "/level-ups", model: "level_ups", key: "level_ups", noun: "level-ups" },
  { path: "/items", model: "items", key: "items", noun: "items" },
  { path: "/social-dynamics", model: "social_dynamics", key: "social_dynamics", noun: "social dynamics" },
] as const;

/** Models written through `POST /v1/records/:model`: the loyalty and gamification family, and pushed trait scores. */
export const RECORD_MODELS = MODELS.filter((m) => m.family !== "events" && !m.derived);

/**
 * Validates the batch, then writes it in one D1 batch with its idempotency record.
 * One bad item refuses the whole batch and nothing is written.
 */
async function ingest(c: Context<AppEnv>, catalogModel: ModelDef, keys: readonly string[], noun: string) {
  const { raw, body } = await readJson(c);
  const model = await tenantModel(c.var.services, c.get("principal").tenantId, catalogModel);
  const items = batchItems(body, keys);
  const v = validateItems(model, items, { now: new Date(c.var.services.clock.now()) });
  if (!v.ok) return send(c, itemErrors(v.errors, v.total, items.length));
  return idempotent(
    c,
    raw,
    async (store) => {
      const res = envelope(201, `${v.rows.length} ${noun} have been successfully ingested`);
      await insertRows(c.var.services, c.get("principal"), model, v.rows, () => store(res));
      return res;
    },
    { batchOnly: true },
  );
}

export const eventsRouter = createRouter();

for (const ep of EVENT_ENDPOINTS) {
  const model = getModel(ep.model) as ModelDef;
  eventsRouter.post(ep.path, requireApiKey(), (c) => ingest(c, model, [ep.key], ep.noun));
  documentBatch(eventsRouter, ep.path, ep.key, model, `Push ${model.title.toLowerCase()} (1 to 1000 items)`);
}
for (const model of RECORD_MODELS) {
  documentBatch(eventsRouter, `/records/${model.name}`, model.name, model, `Push ${model.title.toLowerCase()} records (${model.kind === "entity" ? "upsert by key" : "append"})`);
}

eventsRouter.post("/records/:model", requireApiKey(), (c) => {
  const name = c.req.param("model");
  const model = RECORD_MODELS.find((m) => m.name === name);
  if (!model) {
    throw new ApiError("not_found", `No record model '${name}'; one of: ${RECORD_MODELS.map((m) => m.name).join(", ")}`);
  }
  return ingest(c, model, [name, "records"], name.replace(/_/g, " "));
});
