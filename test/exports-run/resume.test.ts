import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportChunkMessage } from "../../src/exports/runner";
import { createRun } from "../../src/services/runs/runs";
import { setupTenant } from "../helpers";
import { ManualQueue, deliver, drain, e, fileBytes, runRow, seedExport, seedParticipations, sha256, SLOW } from "./helpers";

vi.setConfig(SLOW);

const ROWS = 36_000;
const OPTS = { EXPORT_CHUNK_ROWS: "2000" };

/** Every place the runner can be made to crash (src/exports/runner.ts, `fault`). */
const POINTS = ["after_chunk", "after_part_upload", "after_carry_write", "after_checkpoint", "after_complete", "after_manifest"];

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
    const q = new ManualQueue();
    const run = await createRun(q.env(OPTS), { tenantId, exportId, trigger: "manual" });
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const bytes = await fileBytes(done.file_key as string);
    reference = { bytes, sha: await sha256(bytes), parts: (await partCount(run.id)) ?? 0 };
    expect(reference.parts).toBe(3);
  });

  for (const spm of ["1", "3"]) {
    // with 3 steps per message, the points inside a step are the ones that differ
    for (const point of spm === "1" ? POINTS : ["after_part_upload", "after_checkpoint"]) {
      it(`a crash ${point} in every message (${spm} step(s) per message) resumes to identical bytes`, async () => {
        const q = new ManualQueue();
        const run = await createRun(q.env({ ...OPTS, EXPORT_STEPS_PER_MESSAGE: spm }), { tenantId, exportId, trigger: "manual" });
        let crashes = 0;
        for (let m = q.take(); m; m = q.take()) {
          const before = q.sent.length;
          const err = await deliver(q, m, { FERRY_FAULT: point }).then(
            () => null,
            (x: Error) => x,
          );
          if (err) {
            expect(err.message).toBe(`injected fault at ${point}`);
            crashes++;
            // after_checkpoint crashes before the hand-over: the next message was not sent
            if (point === "after_checkpoint") expect(q.sent.length).toBe(before);
            expect((await runRow(run.id)).status).not.toBe("failed");
            await deliver(q, m); // the queue redelivers the message that crashed
          }
        }
        expect(crashes).toBeGreaterThan(0);
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

  it("crashes at a chosen step only (point@step) also resume identically", async () => {
    const q = new ManualQueue();
    const run = await createRun(q.env({ ...OPTS, EXPORT_STEPS_PER_MESSAGE: "1" }), { tenantId, exportId, trigger: "manual" });
    const plan: Record<number, string[]> = { 2: ["after_part_upload@2", "after_carry_write@2"], 3: ["after_chunk@3"] };
    let crashes = 0;
    for (let m = q.take(); m; m = q.take()) {
      for (const f of plan[m.step] ?? []) await deliver(q, m, { FERRY_FAULT: f }).catch(() => crashes++);
      await deliver(q, m);
    }
    expect(crashes).toBe(3);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
  });

  it("a redelivered message whose checkpoints are recorded does nothing", async () => {
    const q = new ManualQueue();
    const run = await createRun(q.env({ ...OPTS, EXPORT_STEPS_PER_MESSAGE: "1" }), { tenantId, exportId, trigger: "manual" });
    const first = q.take() as ExportChunkMessage;
    await deliver(q, first);
    expect(q.sent).toHaveLength(1);
    const next = q.sent[0];
    const cps = await checkpoints(run.id);
    expect(cps).toHaveLength(1);
    const parts = await partCount(run.id);

    // duplicate of message 1 while message 2 is queued: nothing new is written
    await deliver(q, first);
    expect(await checkpoints(run.id)).toEqual(cps);
    expect(await partCount(run.id)).toBe(parts);
    // it may re-send the hand-over (the crash case); the duplicate is itself a no-op later
    expect(q.sent.every((m) => JSON.stringify(m) === JSON.stringify(next))).toBe(true);

    // deliver everything twice
    for (let m = q.take(); m; m = q.take()) {
      await deliver(q, m);
      await deliver(q, m);
    }
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const finishedAt = done.finished_at;
    expect(await sha256(await fileBytes(done.file_key as string))).toBe(reference.sha);
    expect(await partCount(run.id)).toBe(reference.parts);

    // a very late duplicate of the first message after the run finished changes nothing
    const cpsDone = await checkpoints(run.id);
    await deliver(q, first);
    expect(q.sent).toHaveLength(0);
    expect(await checkpoints(run.id)).toEqual(cpsDone);
    expect((await runRow(run.id)).finished_at).toBe(finishedAt);
  });
});
