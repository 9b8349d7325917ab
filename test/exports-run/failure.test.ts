import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { type ExportEngine, runExportChunk } from "../../src/exports/runner";
import worker from "../../src/index";
import { createRun } from "../../src/services/runs/runs";
import { setupTenant } from "../helpers";
import { defaultEngine } from "../../src/exports/engine";
import { ManualQueue, deliver, e, runRow, seedExport, seedParticipations, SLOW } from "./helpers";

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
    const q = new ManualQueue();
    const run = await createRun(q.env({ EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" }), {
      tenantId: t.tenant.id,
      exportId,
      trigger: "manual",
    });
    const engine = breaksAfter(12); // past part 1 (about 8 chunks of 2000 rows)
    for (let m = q.take(); m; m = q.take()) await runExportChunk(q.env(), m, engine);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^reading rows: .*no_such_column/);
    expect(failed.finished_at).not.toBeNull();
    expect(failed.upload_id).not.toBeNull();
    await expectAborted(failed.file_key as string, failed.upload_id as string);
    expect((await e.FILES.list({ prefix: `tmp/runs/${run.id}/` })).objects).toEqual([]);
    // later deliveries of a failed run do nothing
    await deliver(q, { type: "export_chunk", version: 1, run_id: run.id, step: 1 });
    expect((await runRow(run.id)).status).toBe("failed");
  });

  it("a definition the compiler rejects fails the run with the compiler's reason", async () => {
    const t = await setupTenant("fail-compile");
    const exportId = await seedExport(t.token);
    const q = new ManualQueue();
    const run = await createRun(q.env(), { tenantId: t.tenant.id, exportId, trigger: "manual" });
    // the run's snapshot names a field its model does not have (e.g. a catalog change since)
    await e.DB.prepare("UPDATE export_runs SET definition = json_set(definition, '$.fields[0].from', 'gone') WHERE id = ?1")
      .bind(run.id)
      .run();
    await deliver(q, q.take()!);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^compiling the export: fields\.0\.from: .*gone/);
  });

  it("a message that keeps failing reaches the dead-letter queue, whose consumer fails the run and aborts the upload", async () => {
    const t = await setupTenant("dlq");
    await seedParticipations(t.tenant.id, 20_000);
    const exportId = await seedExport(t.token);
    const q = new ManualQueue();
    const run = await createRun(q.env({ EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" }), {
      tenantId: t.tenant.id,
      exportId,
      trigger: "manual",
    });
    await deliver(q, q.take()!); // step 1 uploads part 1
    const msg = q.take()!;
    await expect(deliver(q, msg, { FERRY_FAULT: "after_chunk" })).rejects.toThrow("injected fault");
    const retrying = await runRow(run.id);
    expect(retrying.status).toBe("processing");
    expect(retrying.error).toBe("retrying after: injected fault at after_chunk");

    // after max_retries the platform moves the message to ferry-jobs-dlq (wrangler.toml)
    const batch = createMessageBatch("ferry-jobs-dlq", [{ id: "m1", timestamp: new Date(), attempts: 6, body: msg }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, e, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    const failed = await runRow(run.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe(
      "The export job kept failing and was given up after its retries. Last error: injected fault at after_chunk",
    );
    await expectAborted(failed.file_key as string, failed.upload_id as string);
  });

  it("a malformed message is retried (and so dead-lettered), never crashes the batch", async () => {
    const batch = createMessageBatch("ferry-jobs", [{ id: "bad", timestamp: new Date(), attempts: 1, body: { type: "export_chunk", version: 1 } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, e, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["bad"]);
  });
});
