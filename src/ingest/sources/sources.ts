/** Bucket sources: configuration (secrets sealed), reachability, notifications. Rows: src/db/sources.ts. */
import { insertSource, markSourceListed, markSourceUnreachable } from "../../db/sources";
import type { SourceRow } from "../../db/schema";
import { decryptSecret, encryptSecret } from "../../lib/crypto";
import { newId } from "../../lib/ids";
import type { Services } from "../../services";
import { maskTarget, sealTarget, unsealTarget } from "../../targets/config";
import { TargetError } from "../../targets/types";
import { type WebhookEvent, sendWebhook } from "../../services/webhooks";
import type { SourceConfig } from "./config";
import { openStorage } from "./storage";

/** A source as responses show it: secrets masked, the webhook secret never shown. */
export function sourceView(row: SourceRow) {
  return {
    id: row.id,
    name: row.name,
    config: maskTarget(JSON.parse(row.config) as SourceConfig),
    webhook_url: row.webhook_url,
    status: row.status,
    last_error: row.last_error,
    last_listed_at: row.last_listed_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * Lists the first page of the source (at most one key): proves the host is allowed, the
 * credentials hold and may list. Throws TargetError with a reason a person can act on.
 */
export async function checkSource(s: Services, cfg: SourceConfig): Promise<void> {
  await openStorage(s.env, cfg, { attempts: 2, timeoutMs: 15_000 }).list(null, 1);
}

export async function createSource(
  s: Services,
  tenantId: string,
  input: { name: string; config: SourceConfig; webhook_url?: string | undefined; webhook_secret?: string | undefined },
): Promise<SourceRow> {
  await checkSource(s, input.config);
  const t = s.clock.seconds();
  const row: SourceRow = {
    id: newId("src"),
    tenant_id: tenantId,
    name: input.name,
    type: input.config.type,
    config: JSON.stringify(await sealTarget(s.env, input.config)),
    webhook_url: input.webhook_url ?? null,
    webhook_secret: input.webhook_secret ? await encryptSecret(s.env.SECRETS_KEY, input.webhook_secret) : null,
    status: "ok",
    last_error: null,
    list_cursor: null,
    last_listed_at: null,
    created_at: t,
    updated_at: t,
  };
  await insertSource(s.db, row);
  return row;
}

export async function sourceConfig(s: Services, row: SourceRow): Promise<SourceConfig> {
  return unsealTarget(s.env, JSON.parse(row.config) as SourceConfig);
}

/**
 * Records the outcome of reaching the source. Going from reachable to unreachable sends a
 * `source.unreachable` webhook (once per outage, not once per cron tick).
 */
export async function markReachable(s: Services, row: SourceRow, error: TargetError | null, cursor?: string | null): Promise<void> {
  const t = s.clock.seconds();
  if (!error) return markSourceListed(s.db, row.tenant_id, row.id, cursor ?? null, t);
  if (await markSourceUnreachable(s.db, row.tenant_id, row.id, error.message, t)) {
    await notify(s, row, "source.unreachable", { source_id: row.id, name: row.name, reason: error.message, kind: error.kind });
  }
}

/**
 * Sends a signed webhook if the source has one. Best effort: a failing receiver is logged, and
 * the status (GET /api/1/sources/:id, .../files) stays the place to read what happened.
 */
export async function notify(s: Services, row: Pick<SourceRow, "id" | "tenant_id" | "webhook_url" | "webhook_secret">, type: string, data: Record<string, unknown>): Promise<void> {
  if (!row.webhook_url || !row.webhook_secret) return;
  const event: WebhookEvent = { type, id: newId("evt"), created_at: new Date(s.clock.now()).toISOString(), tenant_id: row.tenant_id, data };
  try {
    await sendWebhook(row.webhook_url, await decryptSecret(s.env.SECRETS_KEY, row.webhook_secret), event);
  } catch (err) {
    console.error(JSON.stringify({ webhook: type, source: row.id, error: String(err) }));
  }
}

