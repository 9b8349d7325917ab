/**
 * PlayFab webhook (PlayStream) events mapped to the catalog's event models. Each PlayStream
 * event is a JSON object with common properties (EventName, EntityType, EntityId, Timestamp,
 * CustomTags, ...) plus its own; see
 * https://learn.microsoft.com/en-us/gaming/playfab/api-references/events/ and docs/ingestion.md.
 */

export interface PlayFabEvent {
  EventName?: unknown;
  EventNamespace?: unknown;
  EntityType?: unknown;
  EntityId?: unknown;
  EventId?: unknown;
  Timestamp?: unknown;
  CustomTags?: unknown;
  [k: string]: unknown;
}

/** One mapped item: the model it goes to and the item in that model's fields (validated afterwards). */
export interface Mapped {
  model: "logins" | "purchases" | "virtual_purchases" | "level_ups" | "actions";
  item: Record<string, unknown>;
}

/** Properties every PlayStream event carries; the rest are the event's own. */
const COMMON = new Set([
  "EventName",
  "EventNamespace",
  "EntityType",
  "EntityId",
  "EventId",
  "Timestamp",
  "Source",
  "SourceType",
  "TitleId",
  "CustomTags",
  "History",
  "Reserved",
  "EntityLineage",
  "PlayFabEnvironment",
]);

/** ISO 8601 (`2019-01-01T15:04:05.1234567Z`) to `YYYY-MM-DD HH:MM:SS`; left as is when not ISO (validation reports it). */
function timestamp(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:?00)?$/.exec(v);
  return m ? `${m[1]} ${m[2]}` : v;
}

const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);

/** The event's own scalar properties and its CustomTags, as action params. */
function params(e: PlayFabEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) {
    if (COMMON.has(k)) continue;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = String(v);
    else if (v !== null && v !== undefined) out[k] = JSON.stringify(v);
  }
  if (e.CustomTags && typeof e.CustomTags === "object") {
    for (const [k, v] of Object.entries(e.CustomTags)) out[`tag.${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * Maps one PlayStream event, or returns null for events that are not about a player
 * (title or character events), which are acknowledged and skipped.
 */
export function mapPlayFabEvent(e: PlayFabEvent): Mapped | null {
  if (e.EntityType !== "player") return null;
  const base = { timestamp: timestamp(e.Timestamp), user_id: e.EntityId };
  const location = (e.Location ?? {}) as { CountryCode?: unknown };
  switch (e.EventName) {
    case "player_logged_in":
      return { model: "logins", item: { ...base, platform: str(e.Platform), country: str(location.CountryCode) } };
    case "player_added_title":
    case "player_created": {
      const ts = base.timestamp;
      return {
        model: "logins",
        item: { ...base, platform: str(e.Platform), register_date: typeof ts === "string" ? ts.slice(0, 10) : undefined },
      };
    }
    case "player_realmoney_purchase": {
      const products = Array.isArray(e.PurchasedProduct) ? e.PurchasedProduct : [];
      return {
        model: "purchases",
        item: {
          ...base,
          item_id: str(products[0]) ?? str(e.OrderId),
          count: products.length || 1,
          // OrderTotal is in the smallest unit of the title's system currency (cents of USD by default).
          price: typeof e.OrderTotal === "number" ? e.OrderTotal / 100 : e.OrderTotal,
          platform: str(e.PaymentProvider),
        },
      };
    }
    case "player_vc_item_purchased": {
      const quantity = typeof e.Quantity === "number" ? e.Quantity : 1;
      return {
        model: "virtual_purchases",
        item: {
          ...base,
          item_id: e.ItemId,
          count: quantity,
          virtual_price: typeof e.UnitPrice === "number" ? e.UnitPrice * quantity : e.UnitPrice,
          currency: e.CurrencyCode,
        },
      };
    }
    case "player_statistic_changed":
      if (typeof e.StatisticName === "string" && /level/i.test(e.StatisticName)) {
        return { model: "level_ups", item: { ...base, level: e.StatisticValue } };
      }
      break;
  }
  const name = typeof e.EventName === "string" ? e.EventName : undefined;
  const ns = typeof e.EventNamespace === "string" ? e.EventNamespace : undefined;
  return {
    model: "actions",
    item: { ...base, action_id: ns && name ? `${ns}.${name}` : name, action_name: name, action_params: params(e) },
  };
}
