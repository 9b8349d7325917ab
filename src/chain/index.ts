/**
 * The resumable chain: the one way ferry runs a job too long for one invocation (an export
 * run, a CSV ingestion, a bucket file, a delivery, a webhook). A job is cut into links; each
 * link is one queue message `{ type: "chain", chain_id, position }`, and the job records its
 * own checkpoint before the chain moves on. The chain owns the rest:
 *
 * - **the next message**: sent after the job's checkpoint is recorded;
 * - **the lease**: a link in flight or being worked on is leased for LEASE_SECONDS, and a
 *   worker extends it with `heartbeat()` while it works;
 * - **stall detection and resume**: the cron (`sweepStalledChains`) resends the message of
 *   every running chain whose lease ran out. Nothing depends on the queue redelivering: a
 *   killed process, or a local queue that lost its in-flight message, is resumed within
 *   LEASE_SECONDS plus one cron tick (about two minutes);
 * - **retries**: a link that throws is sent again after a backoff, counted per position in
 *   D1 (so a crash does not reset the count), and after MAX_ATTEMPTS the job gives up; a link
 *   whose worker died holding it (past its CPU or memory limit) is counted by the sweep;
 * - **the dead letter**: a chain message the queue dead-letters gives up the same way;
 * - **a visible give-up**: the chain is `failed` with the last error, and the job's
 *   `giveUp` marks its subject (the run, the ingestion, ...) failed with that reason.
 *
 * A job's `step` must be idempotent at its position: a link may run twice (a resend while
 * the first worker was only slow), and its writes must be compare-and-set on its checkpoint.
 */
import {
  advanceChain,
  chainId,
  claimChain,
  deferLink,
  failAttempt,
  finishChain,
  getChainUnscoped,
  heartbeatChain,
  insertChain,
  restartChain,
  takeStalledChainsUnscoped,
  WORKER_STOPPED,
} from "../db/chains";
import type { ChainKind, ChainRow } from "../db/schema";
import { isFenced } from "../db/shards/moves";
import { forgetPlacement } from "../db/shards/router";
import { randomId } from "../lib/ids";
import type { Services } from "../services";

/**
 * How long a link may go without a heartbeat. Short enough that a lost link resumes within
 * about two minutes; a step heartbeats far more often than this (every chunk or part).
 */
export const LEASE_SECONDS = 60;
/** Failed attempts at one position before the job gives up. */
export const MAX_ATTEMPTS = 5;
/** Chains the sweep resends per cron tick at most. */
export const SWEEP_BATCH = 100;

/** Retry delay after attempt n (1-based): 2, 4, 8 ... seconds, capped at 5 minutes. */
export const backoffSeconds = (attempt: number) => Math.min(300, 2 ** attempt);

/**
 * Lets the runtime serve other work between two pieces of a link; a link awaits it between
 * chunks. Under `npm run dev` both workers, the local D1, R2 and queues run on one workerd
 * thread, and a link whose every await is answered inside that process never leaves the event
 * loop idle: workerd polls its sockets for new requests only when no event is queued, so a
 * `GET /health` waited for the whole link (2.8 s of a 2.9 s 200k-row export, about 40 s at 1M
 * rows; with a yield a chunk at most 0.6 s at 500k; bench/README.md, "/health during an
 * export"). A timer is what makes it poll; an awaited resolved promise does not (measured: the
 * same stall). Deployed, the two workers are separate isolates and D1 answers over the network;
 * an export alone measured no slower with it.
 * https://developers.cloudflare.com/workers/runtime-apis/scheduler/
 */
export const yieldToRuntime = (): Promise<void> => scheduler.wait(0);

export interface ChainMessage {
  type: "chain";
  version: 1;
  chain_id: string;
  position: number;
}

/**
 * How long a link whose tenant is frozen for a shard move waits before it runs again (not a
 * failed attempt: the freeze is bounded, docs/architecture.md "Shards").
 */
export const FROZEN_RETRY_SECONDS = 5;

export type StepOutcome =
  /** the checkpoint for `next` is recorded: run the next link from there (after `delaySeconds`, if given) */
  | { next: number; delaySeconds?: number }
  /** the job is complete */
  | { done: true }
  /** the job ended on its own terms (e.g. marked failed with a reason); stop the chain */
  | { failed: string };

export interface StepContext {
  services: Services;
  chain: ChainRow;
  /** Extends the lease; throws LeaseLost when the sweep gave the link to another worker. */
  heartbeat(): Promise<void>;
}

export class LeaseLost extends Error {}

/**
 * A kind of job. `step` does one link's work from `chain.position` and records its own
 * checkpoint; `giveUp` marks the job's subject failed with a reason a person can act on.
 */
export interface ChainJob {
  step(ctx: StepContext): Promise<StepOutcome>;
  giveUp(services: Services, chain: ChainRow, reason: string): Promise<void>;
}

/** The job of every chain kind (src/jobs/index.ts wires them): a kind without a job does not compile. */
export type ChainJobs = Record<ChainKind, ChainJob>;

export const chainMessage = (chain: Pick<ChainRow, "id" | "position">): ChainMessage => ({
  type: "chain",
  version: 1,
  chain_id: chain.id,
  position: chain.position,
});

/**
 * The statement that creates a job's chain, for the caller's batch (with the row that makes
 * the job due), and `kick`, which sends its first message once that batch committed. A lost
 * kick costs one lease: the sweep sends the message then.
 */
export function startChain(
  s: Services,
  c: { kind: ChainKind; tenantId: string; subjectId: string; position?: number },
): { statement: ReturnType<typeof insertChain>; kick: () => Promise<void> } {
  const now = s.clock.seconds();
  const position = c.position ?? 0;
  const id = chainId(c.kind, c.subjectId);
  return {
    statement: insertChain(s.db, { ...c, position, now, leaseUntil: now + LEASE_SECONDS }),
    kick: () => s.jobs.send(chainMessage({ id, position })).catch((err) => console.warn(JSON.stringify({ chain: id, kick_failed: String(err) }))),
  };
}

/** Starts a chain on its own (no batch to join). */
export async function startChainNow(s: Services, c: { kind: ChainKind; tenantId: string; subjectId: string; position?: number }): Promise<void> {
  const { statement, kick } = startChain(s, c);
  await s.db.batch([statement]);
  await kick();
}

/** Runs a finished or failed chain again from `position` (e.g. a redelivery). False when it is still running. */
export async function restart(s: Services, kind: ChainKind, subjectId: string, position = 0): Promise<boolean> {
  const now = s.clock.seconds();
  const id = chainId(kind, subjectId);
  if (!(await restartChain(s.db, id, position, now, now + LEASE_SECONDS))) return false;
  await s.jobs.send(chainMessage({ id, position })).catch(() => {});
  return true;
}

/** Handles one chain message. Never throws for the job's own failures: those are counted here. */
export async function handleChainMessage(s: Services, jobs: ChainJobs, msg: ChainMessage): Promise<void> {
  const chain = await getChainUnscoped(s.db, msg.chain_id);
  // Gone, ended, or a stale duplicate of a link that has moved on: nothing to do.
  if (!chain || chain.status !== "running" || chain.position !== msg.position) return;
  const job = jobs[chain.kind];
  const holder = randomId(12);
  const lease = () => s.clock.seconds() + LEASE_SECONDS;
  // Somebody else holds this link (a duplicate message while the first is being worked on).
  if (!(await claimChain(s.db, chain.id, chain.position, holder, s.clock.seconds(), lease()))) return;
  // Its workers kept stopping mid-link (the sweep counted each one): running it again would only
  // stop again, and the file, run or delivery would wait forever with no error. Give up visibly.
  if (chain.attempts >= MAX_ATTEMPTS) {
    await giveUp(s, jobs, chain, `${chain.last_error ?? WORKER_STOPPED} (gave up after ${chain.attempts} attempts)`);
    return;
  }

  let outcome: StepOutcome;
  try {
    outcome = await job.step({
      services: s,
      chain: { ...chain, holder },
      heartbeat: async () => {
        if (!(await heartbeatChain(s.db, chain.id, holder, s.clock.seconds(), lease()))) throw new LeaseLost(`chain ${chain.id} lost its lease`);
      },
    });
  } catch (err) {
    if (err instanceof LeaseLost) return; // another worker has the link now
    const error = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
    const now = s.clock.seconds();
    if (isFenced(err)) {
      // The tenant's shard refused the write: it is frozen for a move, or moved and this
      // isolate's placement was stale. Look again shortly; this is not the job failing.
      forgetPlacement(chain.tenant_id);
      const wait = FROZEN_RETRY_SECONDS;
      if (await deferLink(s.db, chain.id, holder, error, now, now + LEASE_SECONDS + wait)) {
        await s.jobs.send(chainMessage(chain), { delaySeconds: wait }).catch(() => {});
      }
      return;
    }
    const attempts = await failAttempt(s.db, chain.id, holder, error, now, now + LEASE_SECONDS + backoffSeconds(chain.attempts + 1));
    if (attempts === null) return;
    console.error(JSON.stringify({ chain: chain.id, position: chain.position, attempt: attempts, error }));
    if (attempts >= MAX_ATTEMPTS) {
      await giveUp(s, jobs, chain, `${error} (gave up after ${attempts} attempts)`);
      return;
    }
    await s.jobs.send(chainMessage(chain), { delaySeconds: backoffSeconds(attempts) }).catch(() => {});
    return;
  }

  const now = s.clock.seconds();
  if ("next" in outcome) {
    const delay = outcome.delaySeconds ?? 0;
    if (await advanceChain(s.db, chain.id, holder, outcome.next, now, now + LEASE_SECONDS + delay)) {
      // A lost send costs one lease: the sweep sends it.
      await s.jobs.send(chainMessage({ id: chain.id, position: outcome.next }), delay ? { delaySeconds: delay } : undefined).catch(() => {});
    }
  } else if ("done" in outcome) {
    await finishChain(s.db, chain.id, holder, "done", now);
  } else {
    await finishChain(s.db, chain.id, holder, "failed", now, outcome.failed);
  }
}

/** Ends a chain as failed and lets its job mark the subject failed. Safe to repeat. */
export async function giveUp(s: Services, jobs: ChainJobs, chain: ChainRow, reason: string): Promise<void> {
  await finishChain(s.db, chain.id, null, "failed", s.clock.seconds(), reason.slice(0, 1000));
  await jobs[chain.kind].giveUp(s, chain, reason);
}

/**
 * The dead-letter consumer's part: a chain message the queue gave up on (its handling kept
 * throwing, which the chain's own bookkeeping does not do: D1 itself was failing).
 * https://developers.cloudflare.com/queues/configuration/dead-letter-queues/
 */
export async function handleDeadChainMessage(s: Services, jobs: ChainJobs, msg: ChainMessage): Promise<void> {
  const chain = await getChainUnscoped(s.db, msg.chain_id);
  if (!chain || chain.status !== "running" || chain.position !== msg.position) return;
  await giveUp(s, jobs, chain, `${chain.last_error ? `${chain.last_error}; ` : ""}the job message kept failing and was dead-lettered`);
}

/**
 * Cron: resends the message of every running chain whose lease ran out. Returns how many.
 * Safe to overlap with a live worker that was only slow: its next heartbeat finds the lease
 * gone only if the new message claimed the link, and every step is idempotent. A link whose
 * worker took it and stopped (killed past its CPU or memory limit: it cannot count its own
 * failure) is counted here as a failed attempt, so after MAX_ATTEMPTS the next claim gives up
 * instead of the link being resent every lease forever (src/db/chains.ts).
 */
export async function sweepStalledChains(s: Services): Promise<number> {
  const now = s.clock.seconds();
  const stalled = await takeStalledChainsUnscoped(s.db, now, now + LEASE_SECONDS, SWEEP_BATCH);
  for (const { chain: c, workerStopped } of stalled) {
    console.warn(
      JSON.stringify({ chain: c.id, resumed_at: c.position, swept_at: now, ...(workerStopped ? { worker_stopped: true, attempt: c.attempts } : {}) }),
    );
    await s.jobs.send(chainMessage(c));
  }
  return stalled.length;
}
