import * as z from "zod";
import type { ModelDef } from "../../models";
import { getModel } from "../../models";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { insertStatements, validateItems } from "../../ingest/batch";
import type { ItemError, Row } from "../../ingest/batch";
import { type Mapped, type PlayFabEvent, mapPlayFabEvent } from "../../ingest/batch/playfab";
import { commitOnShard, tenantData } from "../../db/shards";
import { MAX_ITEMS, envelope, idempotent, itemErrors, readJson, send } from "./envelope";
import { documentRoute } from "./openapi";

export const playfabRouter = createRouter();

/**
 * PlayFab webhook: one PlayStream event (or a list of them) per POST, authenticated by
 * `?api_key=` because PlayFab cannot set headers. Events go to the models of the mapping in
 * docs/ingestion.md, all in one D1 batch; events that are not about a player are skipped.
 */
playfabRouter.post("/playfab", requireApiKey({ allowQuery: true }), async (c) => {
  const { raw, body } = await readJson(c);
  const events = (Array.isArray(body) ? body : [body]) as unknown[];
  if (!events.length || events.length > MAX_ITEMS) {
    throw new ApiError("bad_request", `Send 1 to ${MAX_ITEMS} PlayStream events (an object or a list), got ${events.length}`);
  }
  const groups = new Map<Mapped["model"], { index: number; item: Record<string, unknown> }[]>();
  let skipped = 0;
  const errors: ItemError[] = [];
  events.forEach((e, index) => {
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      errors.push({ index, field: "(event)", reason: "must be a PlayStream event object" });
      return;
    }
    const mapped = mapPlayFabEvent(e as PlayFabEvent);
    if (!mapped) skipped++;
    else groups.set(mapped.model, [...(groups.get(mapped.model) ?? []), { index, item: mapped.item }]);
  });
  const batches: { model: ModelDef; rows: Row[] }[] = [];
  let total = errors.length;
  for (const [name, list] of groups) {
    const model = getModel(name) as ModelDef;
    const v = validateItems(model, list.map((l) => l.item), { now: new Date(c.var.services.clock.now()) });
    if (v.ok) batches.push({ model, rows: v.rows });
    else {
      total += v.total;
      // Report the index of the PlayStream event, not of the mapped item.
      for (const err of v.errors) errors.push({ ...err, index: list[err.index]?.index ?? err.index });
    }
  }
  if (errors.length) return send(c, itemErrors(errors.slice(0, 100), total, events.length));

  const s = c.var.services;
  const td = tenantData(s.shards, c.get("principal"));
  const ingested = batches.reduce((n, b) => n + b.rows.length, 0);
  return idempotent(c, raw, async (store) => {
    const res = envelope(201, `${ingested} events have been successfully ingested`, {
      models: Object.fromEntries(batches.map((b) => [b.model.name, b.rows.length])),
      skipped,
    });
    const now = s.clock.seconds();
    await commitOnShard(td, [...batches.flatMap((b) => insertStatements(td, b.model, b.rows, now)), ...store(res)]);
    return res;
  }, { batchOnly: true });
});

documentRoute(playfabRouter, {
  method: "post",
  path: "/playfab",
  summary: "PlayFab webhook: PlayStream events mapped to the models (docs/ingestion.md)",
  query: z.object({ api_key: z.string() }),
  body: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]),
  ok: 201,
});
