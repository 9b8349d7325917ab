/** The sources table (migrations/control/0009_sources.sql): configuration, status, notifications. */
import type { Env } from "../../env";
import { decryptSecret, encryptSecret } from "../../lib/crypto";
import { newId } from "../../lib/ids";
import { maskTarget, sealTarget, unsealTarget } from "../../targets/config";
import { TargetError } from "../../targets/types";
import { type WebhookEvent, sendWebhook } from "../../services/webhooks";
import type { SourceConfig } from "./config";
import { openStorage } from "./storage";

export interface SourceRow {
  id: string;
  tenant_id: string;
  name: string;
  type: "s3" | "azure";
  config: string;
  webhook_url: string | null;
  webhook_secret: string | null;
  status: "ok" | "unreachable";
  last_error: string | null;
  list_cursor: string | null;
  last_listed_at: number | null;
  created_at: number;
  updated_at: number;
}

const now = () => Math.floor(Date.now() / 1000);

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
export async function checkSource(env: Env, cfg: SourceConfig): Promise<void> {
  await openStorage(env, cfg, { attempts: 2, timeoutMs: 15_000 }).list(null, 1);
}

export async function createSource(
  env: Env,
  tenantId: string,
  input: { name: string; config: SourceConfig; webhook_url?: string | undefined; webhook_secret?: string | undefined },
): Promise<SourceRow> {
  await checkSource(env, input.config);
  const t = now();
  const row: SourceRow = {
    id: newId("src"),
    tenant_id: tenantId,
    name: input.name,
    type: input.config.type,
    config: JSON.stringify(await sealTarget(env, input.config)),
    webhook_url: input.webhook_url ?? null,
    webhook_secret: input.webhook_secret ? await encryptSecret(env.SECRETS_KEY, input.webhook_secret) : null,
    status: "ok",
    last_error: null,
    list_cursor: null,
    last_listed_at: null,
    created_at: t,
    updated_at: t,
  };
  await env.DB.prepare(
    `INSERT INTO sources (id, tenant_id, name, type, config, webhook_url, webhook_secret, status, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ok', ?8, ?8)`,
  )
    .bind(row.id, tenantId, row.name, row.type, row.config, row.webhook_url, row.webhook_secret, t)
    .run();
  return row;
}

/** One source of one tenant; another tenant's id is not found. */
export async function getSource(env: Env, tenantId: string, id: string): Promise<SourceRow | null> {
  return env.DB.prepare("SELECT * FROM sources WHERE id = ?1 AND tenant_id = ?2").bind(id, tenantId).first<SourceRow>();
}

export async function listSources(env: Env, tenantId: string): Promise<SourceRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM sources WHERE tenant_id = ?1 ORDER BY created_at, id").bind(tenantId).all<SourceRow>();
  return results;
}

/** Deletes a source with its file records; rows already ingested stay. */
export async function deleteSource(env: Env, tenantId: string, id: string): Promise<boolean> {
  const [, , del] = await env.DB.batch([
    env.DB.prepare(
      "DELETE FROM source_file_errors WHERE file_id IN (SELECT f.id FROM source_files f JOIN sources s ON s.id = f.source_id WHERE s.id = ?1 AND s.tenant_id = ?2)",
    ).bind(id, tenantId),
    env.DB.prepare("DELETE FROM source_files WHERE source_id = ?1 AND tenant_id = ?2").bind(id, tenantId),
    env.DB.prepare("DELETE FROM sources WHERE id = ?1 AND tenant_id = ?2").bind(id, tenantId),
  ]);
  return (del?.meta.changes ?? 0) > 0;
}

export async function sourceConfig(env: Env, row: SourceRow): Promise<SourceConfig> {
  return unsealTarget(env, JSON.parse(row.config) as SourceConfig);
}

/**
 * Records the outcome of reaching the source. Going from reachable to unreachable sends a
 * `source.unreachable` webhook (once per outage, not once per cron tick).
 */
export async function markReachable(env: Env, row: SourceRow, error: TargetError | null, cursor?: string | null): Promise<void> {
  const t = now();
  if (!error) {
    await env.DB.prepare(
      "UPDATE sources SET status = 'ok', last_error = NULL, list_cursor = ?2, last_listed_at = ?3, updated_at = ?3 WHERE id = ?1",
    )
      .bind(row.id, cursor ?? null, t)
      .run();
    return;
  }
  const res = await env.DB.prepare(
    "UPDATE sources SET status = 'unreachable', last_error = ?2, last_listed_at = ?3, updated_at = ?3 WHERE id = ?1 AND status = 'ok'",
  )
    .bind(row.id, error.message, t)
    .run();
  if (res.meta.changes === 0) {
    await env.DB.prepare("UPDATE sources SET last_error = ?2, last_listed_at = ?3 WHERE id = ?1").bind(row.id, error.message, t).run();
    return;
  }
  await notify(env, row, "source.unreachable", { source_id: row.id, name: row.name, reason: error.message, kind: error.kind });
}

/**
 * Sends a signed webhook if the source has one. Best effort: a failing receiver is logged, and
 * the status (GET /api/1/sources/:id, .../files) stays the place to read what happened.
 */
export async function notify(env: Env, row: Pick<SourceRow, "id" | "tenant_id" | "webhook_url" | "webhook_secret">, type: string, data: Record<string, unknown>): Promise<void> {
  if (!row.webhook_url || !row.webhook_secret) return;
  const event: WebhookEvent = { type, id: newId("evt"), created_at: new Date().toISOString(), tenant_id: row.tenant_id, data };
  try {
    await sendWebhook(row.webhook_url, await decryptSecret(env.SECRETS_KEY, row.webhook_secret), event);
  } catch (err) {
    console.error(JSON.stringify({ webhook: type, source: row.id, error: String(err) }));
  }
}

