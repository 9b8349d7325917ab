/** Bucket sources: configuration (secrets sealed), reachability, notifications. Rows: src/db/sources.ts. */
import { insertSource, markSourceListed, markSourceUnreachable } from "../../db/sources";
import type { SourceRow } from "../../db/schema";
import { ApiError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { maskSecrets, sealSecrets, unsealSecrets } from "../../lib/secrets";
import type { Services } from "../../services";
import { TargetError } from "../../targets/types";
import { type WebhookEvent, sendWebhook } from "../../services/webhooks";
import { NewSource, SourceConfig, SourceWebhook } from "./config";
import { openStorage } from "./storage";

/** A source as responses show it: secrets masked, the webhook secret never shown. */
export function sourceView(row: SourceRow) {
  return {
    id: row.id,
    name: row.name,
    config: maskSecrets(SourceConfig, JSON.parse(row.config) as SourceConfig),
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
  await openStorage(s.env, cfg, { attempts: 2, timeoutMs: 15_000, now: () => s.clock.now() }).list(null, 1);
}

/**
 * A decryption_key must be a private key that its passphrase (if any) unlocks: a 400 now, not a
 * failed file later. The key is stored unlocked (and sealed, like every secret): unlocking a
 * gpg-made key runs its passphrase derivation (iterated S2K, seconds of CPU in JavaScript), which
 * would otherwise be paid again for every encrypted file. The passphrase is not kept.
 */
async function unlockDecryptionKey(s: Services, cfg: SourceConfig): Promise<SourceConfig> {
  if (cfg.decryption_passphrase && !cfg.decryption_key) {
    throw new ApiError("validation_failed", "decryption_passphrase without decryption_key; give both, or neither", { details: [{ path: "config.decryption_passphrase", message: "needs decryption_key" }] });
  }
  if (!cfg.decryption_key) return cfg;
  // OpenPGP runs in the jobs worker (services.toolbox), which the API asks over RPC.
  const unlocked = await s.toolbox.unlockPrivateKey(cfg.decryption_key, cfg.decryption_passphrase);
  const { decryption_passphrase: _, ...rest } = cfg;
  return { ...rest, decryption_key: unlocked };
}

export async function createSource(s: Services, tenantId: string, input: NewSource): Promise<SourceRow> {
  // Sealed first: a "****" sent as a secret is a 400 before anything is asked of the bucket.
  await sealSecrets(s.secrets, NewSource, input);
  const unlocked = { ...input, config: await unlockDecryptionKey(s, input.config) };
  const sealed = await sealSecrets(s.secrets, NewSource, unlocked);
  await checkSource(s, input.config);
  const t = s.clock.seconds();
  const row: SourceRow = {
    id: newId("src"),
    tenant_id: tenantId,
    name: input.name,
    type: input.config.type,
    config: JSON.stringify(sealed.config),
    webhook_url: sealed.webhook_url ?? null,
    webhook_secret: sealed.webhook_secret ?? null,
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
  return unsealSecrets(s.secrets, SourceConfig, JSON.parse(row.config) as SourceConfig);
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
    const hook = await unsealSecrets(s.secrets, SourceWebhook, { webhook_url: row.webhook_url, webhook_secret: row.webhook_secret });
    await sendWebhook(hook.webhook_url, hook.webhook_secret, event);
  } catch (err) {
    console.error(JSON.stringify({ webhook: type, source: row.id, error: String(err) }));
  }
}

