import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { defaultEngine, type ExportEngine } from "../../src/exports/engine";
import worker from "../../src/index";
import { setupTenant } from "../helpers";
import { Faults } from "./faults";
import { RunQueue, drain, e, runRow, seedExport, seedParticipations, SLOW, startRun } from "./helpers";

vi.setConfig(SLOW);

/**
 * The real engine, except that after `calls` chunk queries its query names a column the
 * shard does not have (as a definition gone stale against its table would).
 */
function breaksAfter(calls: number): ExportEngine {
  let n = 0;
  return {
    ...defaultEngine,
    compile(def, ctx) {
      const c = defaultEngine.compile(def, ctx);
      return {
        columns: c.columns,
        nextCursor: (row) => c.nextCursor(row),
        count: () => c.count(),
        chunk(cursor, limit) {
          const q = c.chunk(cursor, limit);
          return ++n > calls ? { ...q, sql: q.sql.replace(/\bstackid\b/, "no_such_column") } : q;
        },
      };
    },
  };
}

async function expectAborted(fileKey: string, uploadId: string) {
  const upload = e.FILES.resumeMultipartUpload(fileKey, uploadId);
  // an aborted upload takes no more parts (an open one would)
  await expect(upload.uploadPart(99, "x")).rejects.toThrow(/upload/i);
  expect(await e.FILES.head(fileKey)).toBeNull();
}

describe("failures", () => {
  it("a query the shard refuses fails the run at once with the reason, aborting the upload", async () => {
    const t = await setupTenant("fail");
    await seedParticipations(t.tenant.id, 36_000);
    const exportId = await seedExport(t.token);
    // past part 1 (about 8 chunks of 2000 rows)
    const q = new RunQueue({ vars: { EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" }, engine: breaksAfter(12) });
    const run = await startRun(q, t.tenant.id, exportId);
    const first = q.sent[0]!;
    await drain(q);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^reading rows: .*no_such_column/);
    expect(failed.finished_at).not.toBeNull();
    expect(failed.upload_id).not.toBeNull();
    await expectAborted(failed.file_key as string, failed.upload_id as string);
    expect((await e.FILES.list({ prefix: `tmp/runs/${run.id}/` })).objects).toEqual([]);
    // the chain ended with the run's reason; later deliveries of a failed run do nothing
    expect(await e.DB.prepare("SELECT status, last_error FROM chains WHERE id = ?1").bind(`export_run:${run.id}`).first()).toEqual({
      status: "failed",
      last_error: failed.error,
    });
    await q.deliver(first);
    expect((await runRow(run.id)).status).toBe("failed");
    expect(q.sent).toEqual([]);
  });

  it("a definition the compiler rejects fails the run with the compiler's reason", async () => {
    const t = await setupTenant("fail-compile");
    const exportId = await seedExport(t.token);
    const q = new RunQueue();
    const run = await startRun(q, t.tenant.id, exportId);
    // the run's snapshot names a field its model does not have (e.g. a catalog change since)
    await e.DB.prepare("UPDATE export_runs SET definition = json_set(definition, '$.fields[0].from', 'gone') WHERE id = ?1")
      .bind(run.id)
      .run();
    await q.deliver(q.take()!);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^compiling the export: fields\.0\.from: .*gone/);
  });

  it("a link that keeps failing reaches the dead-letter queue, whose consumer fails the run and aborts the upload", async () => {
    const t = await setupTenant("dlq");
    await seedParticipations(t.tenant.id, 20_000);
    const exportId = await seedExport(t.token);
    const q = new RunQueue({ vars: { EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" } });
    const run = await startRun(q, t.tenant.id, exportId);
    await q.deliver(q.take()!); // step 1 uploads part 1
    const faults = new Faults().arm("after_chunk");
    await q.deliver(q.take()!, faults.wrap);
    expect(faults.fired).toEqual(["after_chunk"]);
    const retrying = await runRow(run.id);
    expect(retrying.status).toBe("processing");
    expect(retrying.error).toBe("retrying after: injected fault at after_chunk");
    const msg = q.take()!; // the retry of the link that failed

    // after max_retries the platform moves the message to ferry-jobs-dlq (wrangler.toml)
    const batch = createMessageBatch("ferry-jobs-dlq", [{ id: "m1", timestamp: new Date(), attempts: 6, body: msg }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, e, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe(
      "The export job kept failing and was given up: injected fault at after_chunk; the job message kept failing and was dead-lettered",
    );
    await expectAborted(failed.file_key as string, failed.upload_id as string);
  });

  it("a malformed message is retried (and so dead-lettered), never crashes the batch", async () => {
    const batch = createMessageBatch("ferry-jobs", [{ id: "bad", timestamp: new Date(), attempts: 1, body: { type: "chain", version: 1 } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, e, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["bad"]);
  });
});
