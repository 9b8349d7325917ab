import { beforeAll, describe, expect, it, vi } from "vitest";
import { createRun } from "../../src/services/runs/runs";
import { setupTenant } from "../helpers";
import {
  ManualQueue,
  deliver,
  PART,
  drain,
  e,
  expectedCsv,
  fileBytes,
  runRow,
  seedExport,
  seedParticipations,
  sha256,
  SLOW,
} from "./helpers";

vi.setConfig(SLOW);

const ROWS = 36_000; // about 12.5 MB of CSV: two full 5 MiB parts and a shorter last one
const decoder = new TextDecoder();

describe("export run chain", () => {
  let tenantId: string;
  let exportId: string;
  let expected: string;
  beforeAll(async () => {
    const t = await setupTenant("chain");
    tenantId = t.tenant.id;
    await seedParticipations(tenantId, ROWS);
    exportId = await seedExport(t.token);
    expected = await expectedCsv(tenantId);
  });

  it("produces a multi-part file of equal parts, with sha256 and manifest", async () => {
    const q = new ManualQueue();
    const run = await createRun(q.env({ EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" }), {
      tenantId,
      exportId,
      trigger: "manual",
    });
    expect(run.status).toBe("pending");
    const messages = await drain(q);
    expect(messages).toBeGreaterThan(2);

    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.error).toBeNull();
    expect(done.rows).toBe(ROWS);
    const bytes = await fileBytes(done.file_key as string);
    expect(bytes.length).toBe(done.bytes);
    expect(bytes.length).toBeGreaterThan(2 * PART);
    expect(decoder.decode(bytes)).toBe(expected);
    expect(done.sha256).toBe(await sha256(bytes));
    expect(done.file_name).toBe("win-info.csv");
    expect(done.expires_at).toBe((done.finished_at as number) + 7 * 86400);

    const { results: parts } = await e.DB.prepare("SELECT part_number, size FROM export_run_parts WHERE run_id = ?1 ORDER BY part_number")
      .bind(run.id)
      .all<{ part_number: number; size: number }>();
    expect(parts.map((p) => p.part_number)).toEqual([1, 2, 3]);
    expect(parts.slice(0, -1).every((p) => p.size === PART)).toBe(true);
    expect(parts.at(-1)?.size).toBe(bytes.length - 2 * PART);

    const manifest = JSON.parse(decoder.decode(await fileBytes(`exports/${tenantId}/${exportId}/${run.id}/manifest.json`)));
    expect(manifest).toMatchObject({ run_id: run.id, rows: ROWS, bytes: bytes.length, sha256: done.sha256 });
    expect(manifest.files).toEqual([expect.objectContaining({ key: done.file_key, bytes: bytes.length, sha256: done.sha256 })]);

    const tmp = await e.FILES.list({ prefix: `tmp/runs/${run.id}/` });
    expect(tmp.objects).toEqual([]);
  });

  it("a small export is one plain object (no multipart)", async () => {
    const t = await setupTenant("small");
    await seedParticipations(t.tenant.id, 10);
    const exp = await seedExport(t.token, { name: "small" });
    const q = new ManualQueue();
    const run = await createRun(q.env(), { tenantId: t.tenant.id, exportId: exp, trigger: "manual" });
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.upload_id).toBeNull();
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(await expectedCsv(t.tenant.id));
  });

  it("an export with no rows finishes with the header only", async () => {
    const t = await setupTenant("empty");
    const exp = await seedExport(t.token, { name: "empty" });
    const q = new ManualQueue();
    const run = await createRun(q.env(), { tenantId: t.tenant.id, exportId: exp, trigger: "manual" });
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.rows).toBe(0);
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(
      "user_id,stackinstanceid,stackid,value,has_won,participation_date\n",
    );
  });

  it("a run for a push target queues its delivery once the file is complete; a download target does not", async () => {
    const t = await setupTenant("push");
    await seedParticipations(t.tenant.id, 10);
    const exp = await seedExport(t.token, { name: "push" });
    const q = new ManualQueue();
    const push = await createRun(q.env(), { tenantId: t.tenant.id, exportId: exp, trigger: "manual" });
    // the run's snapshot names a push target (target configuration itself is the targets' concern)
    await e.DB.prepare("UPDATE export_runs SET definition = json_set(definition, '$.target', json('{\"type\":\"s3\"}')) WHERE id = ?1")
      .bind(push.id)
      .run();
    const delivered: unknown[] = [];
    for (let m = q.take(); m; m = q.take()) {
      if ((m as { type: string }).type === "chain") delivered.push(m);
      else await deliver(q, m);
    }
    expect((await runRow(push.id)).status).toBe("finished");
    // the first link of the run's delivery chain (src/deliveries/), whose row exists in D1
    expect(delivered).toEqual([{ type: "chain", version: 1, chain_id: `delivery:${push.id}`, position: 0 }]);
    const chain = await e.DB.prepare("SELECT kind, tenant_id, subject_id, status FROM chains WHERE id = ?1").bind(`delivery:${push.id}`).first();
    expect(chain).toEqual({ kind: "delivery", tenant_id: t.tenant.id, subject_id: push.id, status: "running" });

    const plain = await createRun(q.env(), { tenantId: t.tenant.id, exportId: exp, trigger: "manual" });
    const types: string[] = [];
    for (let m = q.take(); m; m = q.take()) {
      types.push(m.type);
      await deliver(q, m);
    }
    expect((await runRow(plain.id)).status).toBe("finished");
    expect(types).toEqual(["export_chunk"]);
  });

  it("createRun is idempotent per scheduled slot", async () => {
    const q = new ManualQueue();
    const a = await createRun(q.env(), { tenantId, exportId, trigger: "schedule", scheduledFor: 1_800_000_000 });
    const b = await createRun(q.env(), { tenantId, exportId, trigger: "schedule", scheduledFor: 1_800_000_000 });
    expect(b.id).toBe(a.id);
    const { results } = await e.DB.prepare("SELECT id FROM export_runs WHERE export_id = ?1 AND scheduled_for = 1800000000")
      .bind(exportId)
      .all();
    expect(results).toHaveLength(1);
    // both messages are for the same run; delivering both yields one file
    await drain(q);
    const done = await runRow(a.id);
    expect(done.status).toBe("finished");
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(expected);
  });
});
