import { and, asc, count, desc, eq, gt, gte, inArray, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type TenantMove, type TenantMoveState, UNFINISHED_MOVE_STATES, export_runs, tenant_moves, tenants } from "./schema";

/**
 * The `tenant_moves` table (src/tenants/moves.ts owns the lifecycle) and the control-DB writes
 * of a move: the switch of `tenants.shard`, and the placement an export run pins.
 */

export function insertMove(db: ControlDb, row: typeof tenant_moves.$inferInsert): BatchItem<"sqlite"> {
  return db.insert(tenant_moves).values(row);
}

/** The move a chain drives (found from the chain, whose tenant scopes it). */
export function getMove(db: ControlDb, tenantId: string, moveId: string): Promise<TenantMove | undefined> {
  return db
    .select()
    .from(tenant_moves)
    .where(and(eq(tenant_moves.id, moveId), eq(tenant_moves.tenant_id, tenantId)))
    .get();
}

/** The tenant's latest move, finished or not. */
export function latestMove(db: ControlDb, tenantId: string): Promise<TenantMove | undefined> {
  return db.select().from(tenant_moves).where(eq(tenant_moves.tenant_id, tenantId)).orderBy(desc(tenant_moves.created_at), desc(tenant_moves.id)).limit(1).get();
}

/**
 * Records the mover's checkpoint for chain position `link`, only from `prev` (compare-and-set);
 * `set` changes other columns in the same statement. False when another link got there first.
 */
export async function checkpointMove(
  db: ControlDb,
  moveId: string,
  prev: number,
  link: number,
  checkpoint: string,
  now: number,
  set: Partial<Pick<TenantMove, "state" | "rows_copied" | "rows_deleted" | "freeze_until" | "frozen_at" | "error" | "finished_at">> = {},
): Promise<boolean> {
  const r = await db
    .update(tenant_moves)
    .set({ ...set, link, checkpoint, updated_at: now })
    .where(and(eq(tenant_moves.id, moveId), eq(tenant_moves.link, prev)))
    .run();
  return r.meta.changes > 0;
}

/**
 * The switch, in one control-DB batch: the move becomes `switched` only while it is still
 * frozen and its freeze has not run out, and `tenants.shard` changes only if it did. The cron
 * revert (revertExpiredFreeze) takes the same row from `frozen`, so exactly one of the two wins.
 */
export async function switchTenant(db: ControlDb, move: TenantMove, link: number, checkpoint: string, now: number): Promise<boolean> {
  const [moved] = await db.batch([
    db
      .update(tenant_moves)
      .set({ state: "switched", switched_at: now, link, checkpoint, updated_at: now })
      .where(and(eq(tenant_moves.id, move.id), eq(tenant_moves.state, "frozen"), eq(tenant_moves.link, move.link), gt(tenant_moves.freeze_until, now)))
      .returning({ id: tenant_moves.id }),
    db
      .update(tenants)
      .set({ shard: move.to_shard })
      .where(
        and(
          eq(tenants.id, move.tenant_id),
          sql`EXISTS (SELECT 1 FROM ${tenant_moves} WHERE ${tenant_moves.id} = ${move.id} AND ${tenant_moves.state} = 'switched')`,
        ),
      ),
  ]);
  return moved.length > 0;
}

/**
 * Moves whose freeze ran out before the switch (their worker died or was too slow), each taken
 * back to `copying` in the same statement so the cron and a late worker never both act.
 * Unscoped: the cron looks at every tenant.
 */
export function takeExpiredFreezesUnscoped(db: ControlDb, now: number): Promise<TenantMove[]> {
  return db
    .update(tenant_moves)
    .set({ state: "copying", freeze_until: null, updated_at: now })
    .where(and(eq(tenant_moves.state, "frozen"), lte(tenant_moves.freeze_until, now)))
    .returning()
    .all();
}

/** Ends a move (done or failed); the chain stops with it. `error`: kept as it is when not given. */
export async function finishMove(db: ControlDb, moveId: string, state: Extract<TenantMoveState, "done" | "failed">, now: number, error?: string): Promise<void> {
  await db
    .update(tenant_moves)
    .set({ state, ...(error !== undefined ? { error } : {}), finished_at: now, freeze_until: null, updated_at: now })
    .where(and(eq(tenant_moves.id, moveId), inArray(tenant_moves.state, [...UNFINISHED_MOVE_STATES])));
}

/**
 * Export runs of the tenant made at or before `switchedAt` that have not ended: they read the
 * old shard (pinnedShard), so its copy stays until they are done.
 */
export async function runsStartedBefore(db: ControlDb, tenantId: string, switchedAt: number): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(export_runs)
    .where(and(eq(export_runs.tenant_id, tenantId), lte(export_runs.created_at, switchedAt), inArray(export_runs.status, ["pending", "processing"])))
    .get();
  return row?.n ?? 0;
}

/**
 * The shard an export run of the tenant reads: the one the tenant was on when the run was made.
 * A run reads keyset chunks by row_id, and row ids differ between shards, so a run does not
 * follow its tenant across a move; the old copy stays until it ends (runsStartedBefore).
 */
export async function shardAt(db: ControlDb, tenantId: string, current: number, createdAt: number): Promise<number> {
  const move = await db
    .select({ from_shard: tenant_moves.from_shard })
    .from(tenant_moves)
    .where(and(eq(tenant_moves.tenant_id, tenantId), eq(tenant_moves.state, "switched"), gte(tenant_moves.switched_at, createdAt)))
    .orderBy(asc(tenant_moves.switched_at))
    .limit(1)
    .get();
  return move?.from_shard ?? current;
}
