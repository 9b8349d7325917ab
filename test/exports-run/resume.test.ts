import { beforeAll, describe, expect, it, vi } from "vitest";
import { type ChainMessage, LEASE_SECONDS, sweepStalledChains } from "../../src/chain";
import { fixedClock, type Services } from "../../src/services";
import { setupTenant } from "../helpers";
import { Faults, POINTS, type Point } from "./faults";
import { RunQueue, drain, e, fileBytes, runRow, seedExport, seedParticipations, sha256, SLOW, startRun } from "./helpers";

vi.setConfig(SLOW);

const ROWS = 36_000;
const VARS = { EXPORT_CHUNK_ROWS: "2000" };

describe("redelivery and crash-resume", () => {
  let tenantId: string;
  let exportId: string;
  let reference: { bytes: Uint8Array; sha: string; parts: number };

  async function checkpoints(runId: string) {
    const { results } = await e.DB.prepare("SELECT step, rows, bytes, last_part, done FROM export_run_checkpoints WHERE run_id = ?1 ORDER BY step")
      .bind(runId)
      .all();
    return results;
  }
  async function partCount(runId: string) {
    return (await e.DB.prepare("SELECT count(*) AS n FROM export_run_parts WHERE run_id = ?1").bind(runId).first<{ n: number }>())?.n;
  }

  beforeAll(async () => {
    const t = await setupTenant("resume");
    tenantId = t.tenant.id;
    await seedParticipations(tenantId, ROWS);
    exportId = await seedExport(t.token);
    const q = new RunQueue({ vars: VARS });
    const run = await startRun(q, tenantId, exportId);
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const bytes = await fileBytes(done.file_key as string);
    reference = { bytes, sha: await sha256(bytes), parts: (await partCount(run.id)) ?? 0 };
    expect(reference.parts).toBe(3);
  });

  for (const spm of ["1", "3"]) {
    // with 3 steps per link, the points inside a step are the ones that differ
    for (const point of spm === "1" ? POINTS : (["after_part_upload", "after_checkpoint"] as Point[])) {
      it(`a crash ${point} in every link (${spm} step(s) per link) resumes to identical bytes`, async () => {
        const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: spm } });
        const run = await startRun(q, tenantId, exportId);
        const faults = new Faults();
        const crashedAt = new Set<number>();
        for (let m = q.take(); m; m = q.take()) {
          // every link crashes once at the point (if it passes there), and its retry does not
          if (!crashedAt.has(m.position)) faults.arm(point);
          const before = faults.fired.length;
          await q.deliver(m, faults.wrap);
          faults.disarm();
          if (faults.fired.length > before) {
            crashedAt.add(m.position);
            // the chain counted the failure and sent this same link again (after a backoff): never the next one
            expect(q.sent.map((x) => x.position)).toEqual([m.position]);
            const retrying = await runRow(run.id);
            expect(retrying.status).not.toBe("failed");
            if (retrying.status === "processing") expect(retrying.error).toBe(`retrying after: injected fault at ${point}`);
            expect(await e.DB.prepare("SELECT attempts FROM chains WHERE id = ?1").bind(m.chain_id).first()).toEqual({ attempts: 1 });
          }
        }
        expect(crashedAt.size).toBeGreaterThan(0);
        const done = await runRow(run.id);
        expect(done.status).toBe("finished");
        expect(done.error).toBeNull();
        const bytes = await fileBytes(done.file_key as string);
        expect(bytes.length).toBe(reference.bytes.length);
        expect(await sha256(bytes)).toBe(reference.sha);
        expect(done.sha256).toBe(reference.sha);
        expect(await partCount(run.id)).toBe(reference.parts);
        expect((await e.FILES.list({ prefix: `tmp/runs/${run.id}/` })).objects).toEqual([]);
      });
    }
  }

  it("crashes at chosen steps only also resume identically", async () => {
    const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: "1" } });
    const run = await startRun(q, tenantId, exportId);
    // with one step per link, the link at position p produces step p + 1
    const plan: Record<number, Point[]> = { 2: ["after_part_upload", "after_carry_write"], 3: ["after_chunk"] };
    const faults = new Faults();
    for (let m = q.take(); m; m = q.take()) {
      const pending = plan[m.position + 1];
      if (pending?.length) faults.arm(pending.shift() as Point);
      await q.deliver(m, faults.wrap);
      faults.disarm();
    }
    expect(faults.fired).toEqual(["after_part_upload", "after_carry_write", "after_chunk"]);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
  });

  it("a step reads while the step before it still uploads; when that upload then fails, neither is recorded and the retry gives identical bytes", async () => {
    const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: "3" } });
    const run = await startRun(q, tenantId, exportId);
    const faults = new Faults();
    // Part 1 (step 1's) is held in flight until a chunk of step 2 was read. Without the overlap
    // nothing releases it, and after 30 s it goes on and the assertion below fails.
    let held = false;
    let readsWhileHeld = 0;
    let release: (() => void) | null = null;
    faults.onChunk = () => {
      if (!held) return;
      readsWhileHeld++;
      release?.();
    };
    faults.beforePart = async (n) => {
      if (n !== 1) return;
      held = true;
      await new Promise<void>((ok) => {
        release = ok;
        setTimeout(ok, 30_000);
      });
      held = false;
    };
    faults.arm("after_part_upload");
    const first = q.take() as ChainMessage;
    await q.deliver(first, faults.wrap);
    expect(faults.fired).toEqual(["after_part_upload"]);
    expect(readsWhileHeld).toBeGreaterThan(0);
    // step 1 failed, so step 2 (made meanwhile) was never committed: nothing is recorded
    expect(await checkpoints(run.id)).toEqual([]);
    expect(await partCount(run.id)).toBe(0);
    expect(q.sent.map((m) => m.position)).toEqual([first.position]);
    expect((await runRow(run.id)).error).toBe("retrying after: injected fault at after_part_upload");

    faults.onChunk = null;
    faults.beforePart = null;
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const bytes = await fileBytes(done.file_key as string);
    expect(await sha256(bytes)).toBe(reference.sha);
    expect(done.sha256).toBe(reference.sha);
    expect(await partCount(run.id)).toBe(reference.parts);
    expect((await e.FILES.list({ prefix: `tmp/runs/${run.id}/` })).objects).toEqual([]);
  });

  it("a redelivered link whose checkpoints are recorded does nothing", async () => {
    const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: "1" } });
    const run = await startRun(q, tenantId, exportId);
    const first = q.take() as ChainMessage;
    await q.deliver(first);
    expect(q.sent).toHaveLength(1);
    const next = q.sent[0];
    const cps = await checkpoints(run.id);
    expect(cps).toHaveLength(1);
    const parts = await partCount(run.id);

    // duplicate of link 0 while link 1 is queued: nothing new is written, nothing sent
    await q.deliver(first);
    expect(await checkpoints(run.id)).toEqual(cps);
    expect(await partCount(run.id)).toBe(parts);
    expect(q.sent).toEqual([next]);

    // deliver everything twice
    for (let m = q.take(); m; m = q.take()) {
      await q.deliver(m);
      await q.deliver(m);
    }
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const finishedAt = done.finished_at;
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
    expect(await partCount(run.id)).toBe(reference.parts);

    // a very late duplicate of the first link after the run finished changes nothing
    const cpsDone = await checkpoints(run.id);
    await q.deliver(first);
    expect(q.sent).toHaveLength(0);
    expect(await checkpoints(run.id)).toEqual(cpsDone);
    expect((await runRow(run.id)).finished_at).toBe(finishedAt);
  });

  it("a link whose message is lost mid-run is resumed by the sweep once its lease ran out, to identical bytes", async () => {
    const clock = fixedClock(Date.now());
    const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: "1" }, clock });
    const run = await startRun(q, tenantId, exportId);
    const mine = (m: ChainMessage) => m.chain_id === `export_run:${run.id}`;
    // two links go through, then the queue loses the third one's message
    for (let i = 0; i < 2; i++) await q.deliver(q.take()!);
    const lost = q.take()!;
    expect(lost.position).toBe(2);
    expect(q.sent).toEqual([]);
    const stuck = await runRow(run.id);
    expect(stuck.status).toBe("processing");
    expect(stuck.progress).toBeGreaterThan(0);
    expect(stuck.progress).toBeLessThan(1);

    // not before the lease ran out ...
    clock.advance(LEASE_SECONDS - 1);
    await sweepStalledChains(q.s);
    expect(q.sent.filter(mine)).toEqual([]);
    // ... then the sweep sends the same link again, and the chain goes on to the end
    clock.advance(2);
    await sweepStalledChains(q.s);
    expect(q.sent.filter(mine)).toEqual([lost]);
    for (let m = q.take(); m; m = q.take()) if (mine(m)) await q.deliver(m);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.sha256).toBe(reference.sha);
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
  });

  it("a worker killed in the middle of a link (it never comes back) is replaced after its lease, to identical bytes", async () => {
    const clock = fixedClock(Date.now());
    const q = new RunQueue({ vars: { ...VARS, EXPORT_STEPS_PER_MESSAGE: "1" }, clock });
    const run = await startRun(q, tenantId, exportId);
    const mine = (m: ChainMessage) => m.chain_id === `export_run:${run.id}`;
    await q.deliver(q.take()!);
    // the second link hangs forever while uploading its part, as a killed process would
    const hang = (s: Services): Services => ({
      ...s,
      files: new Proxy(s.files, {
        get(target, prop) {
          if (prop === "resumeMultipartUpload") return (key: string, id: string) => ({ ...target.resumeMultipartUpload(key, id), uploadPart: () => new Promise(() => {}) });
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      }),
    });
    void q.deliver(q.take()!, hang);
    await new Promise((r) => setTimeout(r, 200));
    expect(q.sent).toEqual([]);
    clock.advance(LEASE_SECONDS + 1);
    expect(await sweepStalledChains(q.s)).toBeGreaterThanOrEqual(1);
    for (let m = q.take(); m; m = q.take()) if (mine(m)) await q.deliver(m);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
  });
});
