import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  type ChainJob,
  type ChainMessage,
  LEASE_SECONDS,
  MAX_ATTEMPTS,
  handleChainMessage,
  handleDeadChainMessage,
  restart,
  startChainNow,
  sweepStalledChains,
} from "../../src/chain";
import { WORKER_STOPPED, getChainUnscoped } from "../../src/db/chains";
import type { Env } from "../../src/env";
import type { JobMessage } from "../../src/jobs/messages";
import { createServices, fixedClock } from "../../src/services";
import { onlyJobs } from "./jobs";

const e = env as unknown as Env;

/** Services whose queue is an in-memory list, so a test decides which message is delivered and which is "lost". */
function harness(startMs = Date.UTC(2026, 10, 26, 12)) {
  const sent: { msg: JobMessage; delaySeconds?: number }[] = [];
  const clock = fixedClock(startMs);
  const s = createServices(e, { clock, jobs: { send: async (msg, o) => void sent.push({ msg, ...(o?.delaySeconds ? { delaySeconds: o.delaySeconds } : {}) }) } });
  const take = () => sent.splice(0).map((x) => x.msg as ChainMessage);
  return { s, clock, sent, take };
}

/** A job counting to `to`, one position per link, recording every step it ran. */
function counter(to: number, opts: { failAt?: number; failTimes?: number } = {}) {
  const ran: number[] = [];
  const gaveUp: string[] = [];
  let failures = 0;
  const job: ChainJob = {
    async step({ chain, heartbeat }) {
      await heartbeat();
      if (chain.position === opts.failAt && failures < (opts.failTimes ?? Infinity)) {
        failures++;
        throw new Error(`boom at ${chain.position}`);
      }
      ran.push(chain.position);
      return chain.position + 1 >= to ? { done: true } : { next: chain.position + 1 };
    },
    async giveUp(_s, _chain, reason) {
      gaveUp.push(reason);
    },
  };
  return { job, ran, gaveUp, jobs: onlyJobs({ webhook: job }) };
}

let n = 0;
const subject = () => `subj-${Date.now()}-${n++}`;

describe("resumable chain", () => {
  it("runs link after link, one message each, and ends done", async () => {
    const { s, take } = harness();
    const c = counter(3);
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    for (let i = 0; i < 5; i++) for (const m of take()) await handleChainMessage(s, c.jobs, m);
    expect(c.ran).toEqual([0, 1, 2]);
    const row = await getChainUnscoped(s.db, `webhook:${id}`);
    expect(row?.status).toBe("done");
  });

  it("ignores a duplicate of a link that moved on, and a duplicate while the link is held", async () => {
    const { s, take } = harness();
    const c = counter(3);
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    const [first] = take();
    await handleChainMessage(s, c.jobs, first!);
    await handleChainMessage(s, c.jobs, first!); // redelivered after the chain moved to 1
    expect(c.ran).toEqual([0]);
    // A slow holder: the duplicate arriving meanwhile does nothing.
    const slow = onlyJobs({
      webhook: {
        async step(ctx) {
          await handleChainMessage(s, c.jobs, { type: "chain", version: 1, chain_id: `webhook:${id}`, position: 1 });
          return c.job.step(ctx);
        },
        giveUp: c.job.giveUp,
      },
    });
    await handleChainMessage(s, slow, take()[0]!);
    expect(c.ran).toEqual([0, 1]);
  });

  it("a lost message is resent by the sweep once the lease ran out, not before", async () => {
    const { s, clock, take } = harness();
    const c = counter(2);
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    await handleChainMessage(s, c.jobs, take()[0]!);
    expect(take()).toHaveLength(1); // the message for position 1 ... is "lost" here
    clock.advance(LEASE_SECONDS - 1);
    await sweepStalledChains(s);
    expect(take().filter((m) => m.chain_id === `webhook:${id}`)).toHaveLength(0);
    clock.advance(2);
    await sweepStalledChains(s);
    const resent = take().filter((m) => m.chain_id === `webhook:${id}`);
    expect(resent).toEqual([{ type: "chain", version: 1, chain_id: `webhook:${id}`, position: 1 }]);
    await handleChainMessage(s, c.jobs, resent[0]!);
    expect(c.ran).toEqual([0, 1]);
    expect((await getChainUnscoped(s.db, `webhook:${id}`))?.status).toBe("done");
  });

  it("a worker killed while holding a link is resumed after its lease, without the queue redelivering", async () => {
    const { s, clock, take } = harness();
    const c = counter(2);
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    const killed = onlyJobs({ webhook: { step: () => new Promise(() => {}), giveUp: c.job.giveUp } });
    void handleChainMessage(s, killed, take()[0]!); // never returns: the process "died" mid-link
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(LEASE_SECONDS + 1);
    expect(await sweepStalledChains(s)).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) for (const m of take()) await handleChainMessage(s, c.jobs, m);
    expect(c.ran).toEqual([0, 1]);
  });

  it(`a link that kills its worker every time is counted by the sweep and given up visibly after ${MAX_ATTEMPTS} attempts; a lost message is not counted`, async () => {
    const { s, clock, take } = harness();
    const c = counter(2);
    const id = subject();
    const chainIdOf = `webhook:${id}`;
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    // The first message is lost before any worker takes it: resent, and not an attempt.
    take();
    clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(s);
    expect(await getChainUnscoped(s.db, chainIdOf)).toMatchObject({ attempts: 0, last_error: null });
    // Every worker that takes the link dies in it (past its CPU or memory limit: no line runs after).
    const killed = onlyJobs({ webhook: { step: () => new Promise(() => {}), giveUp: c.job.giveUp } });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const mine = take().filter((m) => m.chain_id === chainIdOf);
      expect(mine).toHaveLength(1);
      void handleChainMessage(s, killed, mine[0]!);
      await new Promise((r) => setTimeout(r, 20));
      clock.advance(LEASE_SECONDS + 1);
      await sweepStalledChains(s);
      expect(await getChainUnscoped(s.db, chainIdOf)).toMatchObject({ status: "running", attempts: attempt, last_error: WORKER_STOPPED });
    }
    // The next claim gives up instead of starting the link a sixth time.
    for (const m of take().filter((m) => m.chain_id === chainIdOf)) await handleChainMessage(s, killed, m);
    const reason = `${WORKER_STOPPED} (gave up after ${MAX_ATTEMPTS} attempts)`;
    expect(c.gaveUp).toEqual([reason]);
    expect(await getChainUnscoped(s.db, chainIdOf)).toMatchObject({ status: "failed", last_error: reason });
    clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(s);
    expect(take().filter((m) => m.chain_id === chainIdOf)).toEqual([]);
  });

  it("retries a failing link with backoff, counted in D1, then recovers", async () => {
    const { s, sent, take } = harness();
    const c = counter(2, { failAt: 1, failTimes: 2 });
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    await handleChainMessage(s, c.jobs, take()[0]!);
    await handleChainMessage(s, c.jobs, take()[0]!);
    expect(sent[0]?.delaySeconds).toBe(2);
    const row = await getChainUnscoped(s.db, `webhook:${id}`);
    expect(row).toMatchObject({ attempts: 1, last_error: "boom at 1", status: "running" });
    await handleChainMessage(s, c.jobs, take()[0]!);
    expect(sent[0]?.delaySeconds).toBe(4);
    await handleChainMessage(s, c.jobs, take()[0]!);
    expect(c.ran).toEqual([0, 1]);
    expect(await getChainUnscoped(s.db, `webhook:${id}`)).toMatchObject({ status: "done", last_error: null });
  });

  it(`gives up visibly after ${MAX_ATTEMPTS} failed attempts, and can be restarted`, async () => {
    const { s, take } = harness();
    const c = counter(2, { failAt: 0 });
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    for (let i = 0; i < MAX_ATTEMPTS + 2; i++) for (const m of take()) await handleChainMessage(s, c.jobs, m);
    expect(c.gaveUp).toEqual([`boom at 0 (gave up after ${MAX_ATTEMPTS} attempts)`]);
    expect(await getChainUnscoped(s.db, `webhook:${id}`)).toMatchObject({ status: "failed", last_error: `boom at 0 (gave up after ${MAX_ATTEMPTS} attempts)` });
    const ok = counter(1);
    expect(await restart(s, "webhook", id)).toBe(true);
    for (const m of take()) await handleChainMessage(s, ok.jobs, m);
    expect(ok.ran).toEqual([0]);
    expect((await getChainUnscoped(s.db, `webhook:${id}`))?.status).toBe("done");
  });

  it("a dead-lettered message gives the job up with its last error", async () => {
    const { s, take } = harness();
    const c = counter(2);
    const id = subject();
    await startChainNow(s, { kind: "webhook", tenantId: "ten_x", subjectId: id });
    await handleDeadChainMessage(s, c.jobs, take()[0]!);
    expect(c.gaveUp).toHaveLength(1);
    expect(c.gaveUp[0]).toMatch(/dead-lettered/);
    expect((await getChainUnscoped(s.db, `webhook:${id}`))?.status).toBe("failed");
  });
});
