import { type ChainJob, MAX_ATTEMPTS, type StepOutcome } from "../chain";
import { getRun } from "../db/runs";
import type { ChainRow, RunRow } from "../db/schema";
import type { Services } from "../services";
import { type ExportBody, Notification } from "../exports/definition";
import { unsealSecrets } from "../lib/secrets";
import { readSnapshot } from "./snapshot";
import { logWebhookAttempt, type WebhookAttempt } from "./webhook-log";
import { sendWebhook, WebhookError } from "../services/webhooks";
import { checkTargetHost } from "../targets/hosts";

/**
 * Run notifications: a finished or failed run sends one signed webhook (`export.run.finished` /
 * `export.run.failed`, signature scheme in src/services/webhooks.ts) to the definition's
 * `notification.webhook_url`. Each is a `webhook` chain whose row is inserted in the same batch
 * as the run's status change (src/runs/job.ts), so a worker that dies right after the status
 * change cannot lose it: the chain's sweep sends it. Its subject id `<run_id>.<event>` is also
 * the event id and the `ferry-delivery` header, which receivers de-duplicate on (delivery is at
 * least once).
 */

export type RunEvent = "export.run.finished" | "export.run.failed";
export const EVENT_STATUS: Record<RunEvent, "finished" | "failed"> = { "export.run.finished": "finished", "export.run.failed": "failed" };

/** The webhook chain's subject id, and the event's delivery id. */
export const runEvent = (runId: string, event: RunEvent) => `${runId}.${event}`;

/** The run and event of a notification chain's subject `<run_id>.<event>`. */
export function parseRunEvent(subject: string): { runId: string; event: RunEvent } | null {
  const dot = subject.indexOf(".");
  const event = subject.slice(dot + 1);
  return dot > 0 && event in EVENT_STATUS ? { runId: subject.slice(0, dot), event: event as RunEvent } : null;
}

/**
 * What a notification chain (webhook, email) is about: the run and its definition snapshot, or
 * the outcome that ends the chain when there is nothing (left) to tell.
 */
export async function loadRunEvent(s: Services, chain: ChainRow): Promise<{ run: RunRow; def: ExportBody; event: RunEvent } | { outcome: StepOutcome }> {
  const subject = parseRunEvent(chain.subject_id);
  if (!subject) return { outcome: { failed: `not a run event: ${chain.subject_id}` } };
  const run = await getRun(s.db, chain.tenant_id, subject.runId);
  // Gone, or the status moved on (a failed event queued while the run finished): nothing to tell.
  if (!run || run.status !== EVENT_STATUS[subject.event]) return { outcome: { done: true } };
  try {
    return { run, def: readSnapshot(run), event: subject.event };
  } catch (err) {
    return { outcome: { failed: (err as Error).message } };
  }
}

/**
 * The `webhook` chain job: one step that signs and POSTs. A receiver's answer that retrying
 * cannot change (a 4xx other than 408/429, a refused host) ends the chain as failed with that
 * reason; anything retryable throws, and the chain retries with backoff.
 */
export const webhookJob: ChainJob = {
  async step({ services: s, chain }): Promise<StepOutcome> {
    const loaded = await loadRunEvent(s, chain);
    if ("outcome" in loaded) return loaded.outcome;
    const { run, def, event } = loaded;
    if (!def.notification?.webhook_url) return { done: true };
    const notification = await unsealSecrets(s.secrets, Notification, def.notification);
    if (!notification.webhook_url || !notification.secret) return { done: true };
    const url = new URL(notification.webhook_url);
    const hookUrl = notification.webhook_url;
    const attempt = chain.attempts + 1;
    const log = (a: Pick<WebhookAttempt, "outcome" | "response_status" | "error" | "duration_ms">) =>
      logWebhookAttempt(s, run.tenant_id, { event_id: chain.subject_id, event_type: event, url: hookUrl, attempt, ...a });
    try {
      await checkTargetHost(s.env, url.hostname);
    } catch (err) {
      const reason = `refused host: ${(err as Error).message}`;
      await log({ outcome: "failed", response_status: null, error: reason, duration_ms: null });
      return { failed: reason };
    }
    const started = s.clock.now();
    let status: number;
    try {
      status = await sendWebhook(notification.webhook_url, notification.secret, {
        type: event,
        id: chain.subject_id,
        created_at: new Date(s.clock.now()).toISOString(),
        tenant_id: run.tenant_id,
        data: {
          id: run.id,
          export_id: run.export_id,
          status: run.status,
          rows: run.rows,
          bytes: run.bytes,
          sha256: run.sha256,
          error: run.error,
          file_name: run.file_name,
          finished_at: run.finished_at,
          expires_at: run.expires_at,
          name: def.name,
          run_id: run.id,
          export_name: def.name,
        },
      });
    } catch (err) {
      if (!(err instanceof WebhookError)) throw err;
      // A retryable failure on the last attempt is the chain giving up: that attempt is the failed one.
      const last = !err.retryable || attempt >= MAX_ATTEMPTS;
      await log({ outcome: last ? "failed" : "retrying", response_status: err.status, error: err.message, duration_ms: s.clock.now() - started });
      if (!err.retryable) return { failed: err.message };
      throw err;
    }
    // Delivered: a log write that fails now is not retried, so that the receiver does not get the event twice.
    await log({ outcome: "delivered", response_status: status, error: null, duration_ms: s.clock.now() - started }).catch((err) =>
      console.error(JSON.stringify({ webhook: chain.subject_id, log_failed: String(err) })),
    );
    return { done: true };
  },
  async giveUp(_s, chain, reason) {
    // Nothing else to mark: the chain row (status failed, last_error) is the record.
    console.error(JSON.stringify({ webhook: chain.subject_id, gave_up: reason }));
  },
};
