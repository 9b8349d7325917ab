/**
 * Delivery of a finished run's file to its export's target, decoupled from the run
 * chain: the chain (or anyone) calls enqueueDelivery once a run is finished; the
 * `target_delivery` job calls runDelivery. State lives in run_deliveries, one row per run.
 */
import { nowSeconds } from "../../db/client";
import type { Env } from "../../env";
import { newId } from "../../lib/ids";
import { DeliveryTarget, unsealTarget } from "../../targets/config";
import { deliverFile } from "../../targets";
import { type DeliveryOptions, TargetError } from "../../targets/types";

/** Attempts (queue deliveries of the job) before a transient failure becomes final. */
export const MAX_DELIVERY_ATTEMPTS = 5;
const CLAIM_TTL_SECONDS = 15 * 60;

export type DeliveryStatus = "pending" | "delivering" | "retrying" | "delivered" | "failed";

export interface Delivery {
  id: string;
  run_id: string;
  target_type: string;
  status: DeliveryStatus;
  attempts: number;
  location: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** Queues delivery of a finished run's file. Safe to call more than once. */
export async function enqueueDelivery(env: Env, args: { tenantId: string; runId: string }): Promise<void> {
  await env.JOBS.send({ type: "target_delivery", version: 1, tenant_id: args.tenantId, run_id: args.runId });
}

/** The delivery state of a run, or null (download target, or not queued yet). Tenant-scoped. */
export async function getDelivery(env: Env, tenantId: string, runId: string): Promise<Delivery | null> {
  return env.DB.prepare(
    "SELECT id, run_id, target_type, status, attempts, location, error, created_at, updated_at, delivered_at FROM run_deliveries WHERE tenant_id = ? AND run_id = ?",
  )
    .bind(tenantId, runId)
    .first<Delivery>();
}

interface RunRow {
  id: string;
  status: string;
  definition: string;
  file_key: string | null;
  file_name: string | null;
  content_type: string | null;
  created_at: number;
  export_name: string;
}

async function update(env: Env, id: string, fields: Partial<Pick<Delivery, "status" | "location" | "error" | "delivered_at">>) {
  const sets = Object.keys(fields).map((k) => `${k} = ?`);
  sets.push("updated_at = ?");
  await env.DB.prepare(`UPDATE run_deliveries SET ${sets.join(", ")} WHERE id = ?`)
    .bind(...Object.values(fields), nowSeconds(), id)
    .run();
}

/**
 * Delivers one run's file. Idempotent: a delivered run is not sent again. A failure
 * the customer must fix (credentials, missing bucket, refused path) is recorded as
 * `failed` at once; a transient one is recorded as `retrying` and thrown so the queue
 * retries with backoff, until MAX_DELIVERY_ATTEMPTS.
 */
export async function runDelivery(env: Env, tenantId: string, runId: string, opts?: DeliveryOptions): Promise<Delivery | null> {
  const run = await env.DB.prepare(
    `SELECT r.id, r.status, r.definition, r.file_key, r.file_name, r.content_type, r.created_at, e.name AS export_name
       FROM export_runs r JOIN exports e ON e.id = r.export_id AND e.tenant_id = r.tenant_id
      WHERE r.tenant_id = ? AND r.id = ?`,
  )
    .bind(tenantId, runId)
    .first<RunRow>();
  if (!run) return null;
  const definition = JSON.parse(run.definition) as { target?: { type: string } };
  const parsedTarget = DeliveryTarget.safeParse(definition.target);
  if (!parsedTarget.success) return null; // download target: nothing to push

  const now = nowSeconds();
  await env.DB.prepare(
    "INSERT INTO run_deliveries (id, tenant_id, run_id, target_type, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (tenant_id, run_id) DO NOTHING",
  )
    .bind(newId("dlv"), tenantId, runId, parsedTarget.data.type, now, now)
    .run();
  const current = (await getDelivery(env, tenantId, runId))!;
  if (current.status === "delivered" || current.status === "failed") return current;
  if (run.status !== "finished" || !run.file_key) {
    throw new Error(`run ${runId} is ${run.status}; delivery waits until it is finished`);
  }

  // Claim the delivery: a message delivered twice at once must not upload twice. A claim
  // older than the queue consumer's wall-clock limit (15 min) is from a dead invocation.
  // https://developers.cloudflare.com/queues/platform/limits/
  const claimed = await env.DB.prepare(
    `UPDATE run_deliveries SET status = 'delivering', attempts = attempts + 1, updated_at = ?
      WHERE id = ? AND (status IN ('pending', 'retrying') OR (status = 'delivering' AND updated_at < ?))`,
  )
    .bind(nowSeconds(), current.id, nowSeconds() - CLAIM_TTL_SECONDS)
    .run();
  if (claimed.meta.changes !== 1) throw new Error(`delivery of run ${runId} is in progress in another invocation`);
  const attempt = current.attempts + 1;
  try {
    const head = await env.FILES.head(run.file_key);
    if (!head) throw new TargetError("not_found", `the export file of run ${runId} is no longer in storage (expired?)`);
    const target = await unsealTarget(env, parsedTarget.data);
    const { location } = await deliverFile(
      env,
      target,
      { key: run.file_key, size: head.size, name: run.file_name ?? run.file_key.split("/").pop()!, contentType: run.content_type ?? "application/octet-stream" },
      { exportName: run.export_name, runId, date: new Date(run.created_at * 1000).toISOString().slice(0, 10) },
      opts,
    );
    await update(env, current.id, { status: "delivered", location, error: null, delivered_at: nowSeconds() });
  } catch (err) {
    const te = err instanceof TargetError ? err : new TargetError("transient", `delivery failed: ${String((err as Error)?.message ?? err)}`);
    const final = !te.retryable || attempt >= MAX_DELIVERY_ATTEMPTS;
    const reason = te.retryable && final ? `${te.message} (after ${attempt} attempts)` : te.message;
    await update(env, current.id, { status: final ? "failed" : "retrying", error: reason });
    if (!final) throw te;
  }
  return getDelivery(env, tenantId, runId);
}
