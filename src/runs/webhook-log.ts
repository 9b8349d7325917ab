import { insertRows, validateItems } from "../ingest/batch";
import { formatTimestamp } from "../ingest/batch/formats";
import { getModel } from "../models";
import type { ModelDef } from "../models";
import type { Services } from "../services";

/**
 * The tenant's webhook log (catalog model `webhook_logs`, exportable like any model): one row
 * per delivery attempt of one of the tenant's webhooks, written to the tenant's shard when the
 * attempt ends. A link that runs twice (the chain's at-least-once) logs both attempts, as both
 * reached the receiver.
 */
const WEBHOOK_LOGS = getModel("webhook_logs") as ModelDef;

export interface WebhookAttempt {
  event_id: string;
  event_type: string;
  url: string;
  attempt: number;
  outcome: "delivered" | "retrying" | "failed";
  response_status: number | null;
  error: string | null;
  duration_ms: number | null;
}

/** Writes one attempt; the row goes through the catalog's own validation, so it is stored like an ingested one. */
export async function logWebhookAttempt(s: Services, tenantId: string, a: WebhookAttempt): Promise<void> {
  const now = new Date(s.clock.now());
  const v = validateItems(WEBHOOK_LOGS, [{ ...a, error: a.error?.slice(0, 4096) ?? null, created_at: formatTimestamp(now) }], { now });
  if (!v.ok) throw new Error(`webhook log row refused: ${JSON.stringify(v.errors[0])}`);
  await insertRows(s, tenantId, WEBHOOK_LOGS, v.rows);
}
