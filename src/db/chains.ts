import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type ChainKind, type ChainRow, chains } from "./schema";

/**
 * The `chains` table: one row per long job (src/chain/). Loaders here are not scoped by
 * tenant (their names say so): a chain is found from its queue message, whose id the
 * server made; the job it drives then loads its subject scoped by the chain's tenant.
 */

export const chainId = (kind: ChainKind, subjectId: string) => `${kind}:${subjectId}`;

export function getChainUnscoped(db: ControlDb, id: string): Promise<ChainRow | undefined> {
  return db.select().from(chains).where(eq(chains.id, id)).get();
}

export function getChainForTenant(db: ControlDb, tenantId: string, kind: ChainKind, subjectId: string): Promise<ChainRow | undefined> {
  return db
    .select()
    .from(chains)
    .where(and(eq(chains.id, chainId(kind, subjectId)), eq(chains.tenant_id, tenantId)))
    .get();
}

/**
 * The statement that creates a chain at `position`, leased until `leaseUntil` (its first
 * message must be picked up by then, or the sweep sends it). A chain that exists already is
 * left as it is, so creating twice is harmless. Batch it with the write that makes the job
 * due (the run row, the "finished" status): then the job cannot be lost between the two.
 */
export function insertChain(
  db: ControlDb,
  c: { kind: ChainKind; tenantId: string; subjectId: string; position: number; now: number; leaseUntil: number },
): BatchItem<"sqlite"> {
  return db
    .insert(chains)
    .values({
      id: chainId(c.kind, c.subjectId),
      kind: c.kind,
      tenant_id: c.tenantId,
      subject_id: c.subjectId,
      status: "running",
      position: c.position,
      attempts: 0,
      lease_until: c.leaseUntil,
      holder: null,
      created_at: c.now,
      updated_at: c.now,
    })
    .onConflictDoNothing();
}

/** Starts a finished or failed chain again from `position` (a redelivery asked for by a person). */
export async function restartChain(db: ControlDb, id: string, position: number, now: number, leaseUntil: number): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ status: "running", position, attempts: 0, holder: null, lease_until: leaseUntil, last_error: null, finished_at: null, updated_at: now })
    .where(and(eq(chains.id, id), or(eq(chains.status, "done"), eq(chains.status, "failed"))))
    .run();
  return r.meta.changes > 0;
}

/**
 * Takes the lease of a chain's current link for `holder`: only at `position`, only while
 * running, and only when nobody holds it or the holder's lease ran out.
 */
export async function claimChain(db: ControlDb, id: string, position: number, holder: string, now: number, leaseUntil: number): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ holder, lease_until: leaseUntil, updated_at: now })
    .where(
      and(
        eq(chains.id, id),
        eq(chains.position, position),
        eq(chains.status, "running"),
        or(isNull(chains.holder), lte(chains.lease_until, now)),
      ),
    )
    .run();
  return r.meta.changes > 0;
}

/** Extends the holder's lease; false when it lost it (the sweep gave the link to another). */
export async function heartbeatChain(db: ControlDb, id: string, holder: string, now: number, leaseUntil: number): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ lease_until: leaseUntil, updated_at: now })
    .where(and(eq(chains.id, id), eq(chains.holder, holder), eq(chains.status, "running")))
    .run();
  return r.meta.changes > 0;
}

/** Moves the chain to its next link and releases it; the caller sends that link's message. */
export async function advanceChain(db: ControlDb, id: string, holder: string, position: number, now: number, leaseUntil: number): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ position, attempts: 0, holder: null, lease_until: leaseUntil, last_error: null, updated_at: now })
    .where(and(eq(chains.id, id), eq(chains.holder, holder), eq(chains.status, "running")))
    .run();
  return r.meta.changes > 0;
}

export async function finishChain(db: ControlDb, id: string, holder: string | null, status: "done" | "failed", now: number, error?: string): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ status, holder: null, finished_at: now, updated_at: now, last_error: error ?? null })
    .where(and(eq(chains.id, id), eq(chains.status, "running"), holder === null ? sql`1 = 1` : eq(chains.holder, holder)))
    .run();
  return r.meta.changes > 0;
}

/** Records a failed attempt at the current link and releases it until `retryAt`; answers the attempt count. */
export async function failAttempt(db: ControlDb, id: string, holder: string, error: string, now: number, retryAt: number): Promise<number | null> {
  const row = await db
    .update(chains)
    .set({ attempts: sql`${chains.attempts} + 1`, last_error: error, holder: null, lease_until: retryAt, updated_at: now })
    .where(and(eq(chains.id, id), eq(chains.holder, holder), eq(chains.status, "running")))
    .returning({ attempts: chains.attempts })
    .get();
  return row?.attempts ?? null;
}

/**
 * Releases the current link until `retryAt` without counting a failed attempt: the job could
 * not work yet (its tenant's data is frozen for a move) and says when to look again.
 */
export async function deferLink(db: ControlDb, id: string, holder: string, reason: string, now: number, retryAt: number): Promise<boolean> {
  const r = await db
    .update(chains)
    .set({ last_error: reason, holder: null, lease_until: retryAt, updated_at: now })
    .where(and(eq(chains.id, id), eq(chains.holder, holder), eq(chains.status, "running")))
    .run();
  return r.meta.changes > 0;
}

/**
 * What `takeStalledChainsUnscoped` writes as the last error of a link whose worker took it and
 * then stopped answering: it neither finished, failed, nor extended its lease.
 */
export const WORKER_STOPPED =
  "the worker running this link stopped before it finished (killed past its CPU or memory limit, or restarted) or did not renew its lease in time";

/**
 * Running chains whose lease ran out, each re-leased until `leaseUntil` in the same batch so two
 * sweeps never resend the same one. Two cases, told apart by `holder`:
 *
 * - `holder` NULL: the link's message was lost before any worker took it. Not the job's fault;
 *   nothing is counted.
 * - `holder` set: a worker took the link and then stopped (a Worker killed past its CPU or memory
 *   limit dies without running another line, so it cannot count its own failure). That is a failed
 *   attempt, counted here with WORKER_STOPPED as the last error, so a link that kills its worker
 *   every time ends in a visible give-up (src/chain) instead of being resent forever.
 *
 * Unscoped: the cron sweeps every tenant.
 */
export async function takeStalledChainsUnscoped(db: ControlDb, now: number, leaseUntil: number, limit: number): Promise<{ chain: ChainRow; workerStopped: boolean }[]> {
  const stalled = (holder: "held" | "free") =>
    sql`${chains.id} IN (SELECT ${chains.id} FROM ${chains} WHERE ${chains.status} = 'running' AND ${chains.lease_until} <= ${now} AND ${chains.holder} IS ${holder === "held" ? sql`NOT NULL` : sql`NULL`} ORDER BY ${chains.lease_until} LIMIT ${limit})`;
  // The held ones first: once re-leased they no longer match the second statement.
  const [died, lost] = await db.batch([
    db
      .update(chains)
      .set({ attempts: sql`${chains.attempts} + 1`, last_error: WORKER_STOPPED, holder: null, lease_until: leaseUntil, updated_at: now })
      .where(stalled("held"))
      .returning(),
    db.update(chains).set({ holder: null, lease_until: leaseUntil, updated_at: now }).where(stalled("free")).returning(),
  ]);
  return [...died.map((chain) => ({ chain, workerStopped: true })), ...lost.map((chain) => ({ chain, workerStopped: false }))];
}
