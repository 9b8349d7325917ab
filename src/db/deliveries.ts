import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { ControlDb } from "./client";
import { type DeliveryRow, run_deliveries } from "./schema";

/**
 * Deliveries of finished runs to push targets (table run_deliveries), one row per run. The
 * delivery chain (src/deliveries/) is the only writer besides a person's redelivery.
 *
 * Every progress write is a compare-and-set on `upload_state`, the checkpoint a chain link
 * started from: a link that runs twice (a resend while the first worker was only slow) records
 * its part once, and a worker whose link moved on cannot overwrite the newer state.
 */

/** The one loader of a delivery row, scoped by tenant: another tenant's run has none. */
export function getDelivery(db: ControlDb, tenantId: string, runId: string): Promise<DeliveryRow | undefined> {
  return db
    .select()
    .from(run_deliveries)
    .where(and(eq(run_deliveries.tenant_id, tenantId), eq(run_deliveries.run_id, runId)))
    .get();
}

/** `upload_state` is still `prev` (NULL included). */
const stateIs = (prev: string | null) => (prev === null ? isNull(run_deliveries.upload_state) : eq(run_deliveries.upload_state, prev));

/** Creates the row of a delivery that is about to begin; an existing row is kept as it is. */
export async function insertDelivery(
  db: ControlDb,
  d: { id: string; tenantId: string; runId: string; targetType: string; target: string | null; now: number },
): Promise<void> {
  await db
    .insert(run_deliveries)
    .values({
      id: d.id,
      tenant_id: d.tenantId,
      run_id: d.runId,
      target_type: d.targetType,
      target: d.target,
      status: "pending",
      attempts: 0,
      created_at: d.now,
      updated_at: d.now,
    })
    .onConflictDoNothing()
    .run();
}

/**
 * Records a link's progress (the upload began, or a part was sent) if the row is still at the
 * state the link started from. False when another worker moved it first.
 */
export async function recordProgress(
  db: ControlDb,
  id: string,
  prev: string | null,
  next: { uploadState: string; sentBytes: number; partSize: number; now: number },
): Promise<boolean> {
  const r = await db
    .update(run_deliveries)
    .set({ status: "delivering", upload_state: next.uploadState, sent_bytes: next.sentBytes, part_size: next.partSize, updated_at: next.now })
    .where(and(eq(run_deliveries.id, id), stateIs(prev), inArray(run_deliveries.status, ["pending", "delivering", "retrying"])))
    .run();
  return r.meta.changes > 0;
}

/** The last link: the file is complete at `location`. */
export async function recordDelivered(db: ControlDb, id: string, prev: string | null, location: string, now: number): Promise<boolean> {
  const r = await db
    .update(run_deliveries)
    .set({ status: "delivered", location, error: null, delivered_at: now, updated_at: now })
    .where(and(eq(run_deliveries.id, id), stateIs(prev), inArray(run_deliveries.status, ["pending", "delivering", "retrying"])))
    .run();
  return r.meta.changes > 0;
}

/** A transient failure the chain will retry: shown as `retrying` with its reason, counted. */
export async function recordRetrying(db: ControlDb, id: string, prev: string | null, error: string, now: number): Promise<void> {
  await db
    .update(run_deliveries)
    .set({ status: "retrying", error, attempts: sql`${run_deliveries.attempts} + 1`, updated_at: now })
    .where(and(eq(run_deliveries.id, id), stateIs(prev), inArray(run_deliveries.status, ["pending", "delivering", "retrying"])))
    .run();
}

/**
 * The end of a delivery that will not succeed on its own: `failed` with the reason. Creates the
 * row when the delivery failed before it began (the target is unreadable, the file is gone).
 * `countAttempt` counts the failure that ended it. A delivered row is never marked failed.
 */
export async function recordFailed(
  db: ControlDb,
  d: { id: string; tenantId: string; runId: string; targetType: string; target: string | null },
  error: string,
  now: number,
  countAttempt: boolean,
): Promise<void> {
  await db
    .insert(run_deliveries)
    .values({
      id: d.id,
      tenant_id: d.tenantId,
      run_id: d.runId,
      target_type: d.targetType,
      target: d.target,
      status: "failed",
      attempts: countAttempt ? 1 : 0,
      error,
      created_at: now,
      updated_at: now,
    })
    .onConflictDoUpdate({
      target: [run_deliveries.tenant_id, run_deliveries.run_id],
      set: {
        status: "failed",
        error,
        attempts: countAttempt ? sql`${run_deliveries.attempts} + 1` : sql`${run_deliveries.attempts}`,
        updated_at: now,
      },
      setWhere: sql`${run_deliveries.status} <> 'delivered'`,
    })
    .run();
}

/**
 * A redelivery a person asked for: back to `pending` from the beginning, with fresh state and
 * the given target, only while the row is still `failed` with the state read (`prev`), so two
 * requests at once restart it once. Creates the row of a run that never had a delivery.
 */
export async function resetForRedelivery(
  db: ControlDb,
  d: { id: string; tenantId: string; runId: string; targetType: string; target: string },
  prev: Pick<DeliveryRow, "status" | "upload_state"> | undefined,
  now: number,
): Promise<boolean> {
  if (!prev) {
    const r = await db
      .insert(run_deliveries)
      .values({
        id: d.id,
        tenant_id: d.tenantId,
        run_id: d.runId,
        target_type: d.targetType,
        target: d.target,
        status: "pending",
        attempts: 0,
        created_at: now,
        updated_at: now,
      })
      .onConflictDoNothing()
      .run();
    return r.meta.changes > 0;
  }
  const r = await db
    .update(run_deliveries)
    .set({
      status: "pending",
      target_type: d.targetType,
      target: d.target,
      attempts: 0,
      error: null,
      location: null,
      delivered_at: null,
      upload_state: null,
      sent_bytes: 0,
      part_size: null,
      updated_at: now,
    })
    .where(
      and(
        eq(run_deliveries.tenant_id, d.tenantId),
        eq(run_deliveries.run_id, d.runId),
        eq(run_deliveries.status, prev.status),
        stateIs(prev.upload_state),
      ),
    )
    .run();
  return r.meta.changes > 0;
}
