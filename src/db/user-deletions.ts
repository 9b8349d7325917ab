import { and, asc, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type UserDeletionRow, user_deletions } from "./schema";

/**
 * User-data deletion requests (table user_deletions). A request is written with its chain; the
 * chain of the first one to run claims the tenant's pending requests as its batch and moves its
 * checkpoint (`step`, `state`) with compare-and-set writes: of two runs of a link only one
 * records it.
 */

/** The statement that records a request; batch it with the statement that starts its chain. */
export function insertUserDeletion(db: ControlDb, row: typeof user_deletions.$inferInsert): BatchItem<"sqlite"> {
  return db.insert(user_deletions).values(row);
}

/** The one loader of a request, scoped by tenant: another tenant's request is not found. */
export function getUserDeletion(db: ControlDb, tenantId: string, id: string): Promise<UserDeletionRow | undefined> {
  return db
    .select()
    .from(user_deletions)
    .where(and(eq(user_deletions.id, id), eq(user_deletions.tenant_id, tenantId)))
    .get();
}

/**
 * Makes up to `limit` of the tenant's pending requests (oldest first) part of batch `batchId`,
 * which is itself one of them: one statement, so a request joins one batch only.
 */
export async function claimPendingDeletions(db: ControlDb, tenantId: string, batchId: string, now: number, limit: number): Promise<number> {
  const r = await db
    .update(user_deletions)
    .set({ status: "running", batch_id: batchId, started_at: now })
    .where(
      sql`${user_deletions.id} IN (SELECT ${user_deletions.id} FROM ${user_deletions}
        WHERE ${user_deletions.tenant_id} = ${tenantId} AND ${user_deletions.status} = 'pending'
        ORDER BY ${user_deletions.id} = ${batchId} DESC, ${user_deletions.created_at}, ${user_deletions.id} LIMIT ${limit})`,
    )
    .run();
  return r.meta.changes;
}

/** The requests of a batch, oldest first. */
export function listDeletionBatch(db: ControlDb, tenantId: string, batchId: string): Promise<UserDeletionRow[]> {
  return db
    .select()
    .from(user_deletions)
    .where(and(eq(user_deletions.batch_id, batchId), eq(user_deletions.tenant_id, tenantId)))
    .orderBy(asc(user_deletions.created_at), asc(user_deletions.id))
    .all();
}

/** Records the batch owner's checkpoint for chain position `to`, only if it is still at `from`. */
export async function checkpointUserDeletion(db: ControlDb, id: string, from: number, to: number, state: string): Promise<boolean> {
  const r = await db
    .update(user_deletions)
    .set({ step: to, state })
    .where(and(eq(user_deletions.id, id), eq(user_deletions.step, from), eq(user_deletions.status, "running")))
    .run();
  return r.meta.changes > 0;
}

/** Ends every request of a batch as done, each with its own counts, in one D1 batch. */
export async function finishDeletionBatch(
  db: ControlDb,
  results: readonly { id: string; rows: number; by_model: Record<string, number> }[],
  now: number,
): Promise<void> {
  const [first, ...rest] = results.map((r) =>
    db
      .update(user_deletions)
      .set({ status: "done", rows: r.rows, by_model: JSON.stringify(r.by_model), finished_at: now })
      .where(and(eq(user_deletions.id, r.id), eq(user_deletions.status, "running"))),
  );
  if (first) await db.batch([first, ...rest]);
}

/** Ends every running request of a batch as failed with `reason`. */
export async function failDeletionBatch(db: ControlDb, tenantId: string, batchId: string, reason: string, now: number): Promise<void> {
  await db
    .update(user_deletions)
    .set({ status: "failed", error: reason, finished_at: now })
    .where(and(eq(user_deletions.batch_id, batchId), eq(user_deletions.tenant_id, tenantId), eq(user_deletions.status, "running")))
    .run();
}
