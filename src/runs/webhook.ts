import type { Env } from "../env";
import type { JobMessage } from "../jobs/messages";
import { decryptSecret, encryptSecret } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import { sendWebhook, WebhookError } from "../services/webhooks";
import { MASK } from "../targets/config";
import { checkTargetHost } from "../targets/hosts";
import type { ExportBody, Notification } from "./definition";

/**
 * Run notifications: a finished or failed run sends one signed webhook (`export.run.finished` /
 * `export.run.failed`, signature scheme in src/services/webhooks.ts) to the definition's
 * `notification.webhook_url`. Sent by a queue job so a receiver that is down is retried with
 * the queue's backoff; the event id is the run id plus the status, so receivers can de-duplicate.
 */

/** Encrypts the secret for storage; "****" keeps the stored one; already-sealed values stay. */
export async function sealNotification(env: Pick<Env, "SECRETS_KEY">, n: Notification | undefined, previous?: Notification): Promise<Notification | undefined> {
  if (!n) return undefined;
  if (n.secret === MASK) {
    if (!previous) throw new ApiError("validation_failed", `notification.secret: "${MASK}" keeps the stored secret, but none is stored; send the real secret`);
    return { ...n, secret: previous.secret };
  }
  const sealed = await decryptSecret(env.SECRETS_KEY, n.secret).then(
    () => true,
    () => false,
  );
  return sealed ? n : { ...n, secret: await encryptSecret(env.SECRETS_KEY, n.secret) };
}

export const maskNotification = (n: Notification | undefined) => (n ? { ...n, secret: MASK } : undefined);

type RunEvent = "export.run.finished" | "export.run.failed";

/** Queues the run's webhook if its definition asks for one. */
export async function queueRunNotification(env: Env, def: ExportBody, run: { id: string; tenant_id: string }, event: RunEvent): Promise<void> {
  if (!def.notification) return;
  const msg: JobMessage = { type: "export_webhook", version: 1, tenant_id: run.tenant_id, run_id: run.id, event };
  await env.JOBS.send(msg);
}

/** The job: loads the run, signs and posts. Throws (queue retry) only when retrying can help. */
export async function handleExportWebhook(msg: Extract<JobMessage, { type: "export_webhook" }>, env: Env): Promise<void> {
  const run = await env.DB.prepare(
    `SELECT r.id, r.export_id, r.status, r.rows, r.bytes, r.sha256, r.error, r.file_name, r.finished_at, r.expires_at, r.definition, e.name
       FROM export_runs r JOIN exports e ON e.id = r.export_id WHERE r.id = ?1 AND r.tenant_id = ?2`,
  )
    .bind(msg.run_id, msg.tenant_id)
    .first<Record<string, string | number | null> & { definition: string; name: string }>();
  if (!run) return; // the run is gone: nothing to tell
  const def = JSON.parse(run.definition) as ExportBody;
  if (!def.notification) return;
  const url = new URL(def.notification.webhook_url);
  try {
    await checkTargetHost(env, url.hostname);
  } catch (err) {
    console.error(JSON.stringify({ webhook: msg.event, run: run.id, error: `refused host: ${(err as Error).message}` }));
    return;
  }
  const { definition: _d, ...data } = run;
  try {
    await sendWebhook(def.notification.webhook_url, await decryptSecret(env.SECRETS_KEY, def.notification.secret), {
      type: msg.event,
      id: `${run.id}.${msg.event}`,
      created_at: new Date().toISOString(),
      tenant_id: msg.tenant_id,
      data: { ...data, run_id: run.id, export_name: run.name },
    });
  } catch (err) {
    if (err instanceof WebhookError && !err.retryable) {
      console.error(JSON.stringify({ webhook: msg.event, run: run.id, error: err.message }));
      return;
    }
    throw err;
  }
}
