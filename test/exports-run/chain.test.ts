import { beforeAll, describe, expect, it, vi } from "vitest";
import { setupTenant } from "../helpers";
import {
  RunQueue,
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
  startRun,
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
    const q = new RunQueue({ vars: { EXPORT_CHUNK_ROWS: "2000", EXPORT_STEPS_PER_MESSAGE: "1" } });
    const run = await startRun(q, tenantId, exportId);
    expect(run.status).toBe("pending");
    // the run and its chain were created together
    expect(await e.DB.prepare("SELECT status, position FROM chains WHERE id = ?1").bind(`export_run:${run.id}`).first()).toEqual({ status: "running", position: 0 });
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
    expect(await e.DB.prepare("SELECT status FROM chains WHERE id = ?1").bind(`export_run:${run.id}`).first()).toEqual({ status: "done" });
  });

  it("a small export is one plain object (no multipart)", async () => {
    const t = await setupTenant("small");
    await seedParticipations(t.tenant.id, 10);
    const exp = await seedExport(t.token, { name: "small" });
    const q = new RunQueue();
    const run = await startRun(q, t.tenant.id, exp);
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.upload_id).toBeNull();
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(await expectedCsv(t.tenant.id));
  });

  it("an export with no rows finishes with the header only", async () => {
    const t = await setupTenant("empty");
    const exp = await seedExport(t.token, { name: "empty" });
    const q = new RunQueue();
    const run = await startRun(q, t.tenant.id, exp);
    await drain(q);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    expect(done.rows).toBe(0);
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(
      "user_id,stackinstanceid,stackid,value,has_won,participation_date\n",
    );
  });

  it("a run for a push target starts its delivery chain in the batch that finishes it; a download target does not", async () => {
    const t = await setupTenant("push");
    await seedParticipations(t.tenant.id, 10);
    const exp = await seedExport(t.token, { name: "push" });
    const q = new RunQueue();
    const push = await startRun(q, t.tenant.id, exp);
    // the run's snapshot names a push target (target configuration itself is the targets' concern)
    await e.DB.prepare("UPDATE export_runs SET definition = json_set(definition, '$.target', json('{\"type\":\"s3\"}')) WHERE id = ?1")
      .bind(push.id)
      .run();
    await drain(q);
    expect((await runRow(push.id)).status).toBe("finished");
    // the delivery job (src/deliveries/) is keyed by the run id; only its chain is started here
    expect(await e.DB.prepare("SELECT kind, tenant_id, subject_id, status FROM chains WHERE id = ?1").bind(`delivery:${push.id}`).first()).toEqual({
      kind: "delivery",
      tenant_id: t.tenant.id,
      subject_id: push.id,
      status: "running",
    });
    expect(q.others).toEqual([{ type: "chain", version: 1, chain_id: `delivery:${push.id}`, position: 0 }]);

    const q2 = new RunQueue();
    const plain = await startRun(q2, t.tenant.id, exp);
    await drain(q2);
    expect((await runRow(plain.id)).status).toBe("finished");
    expect(q2.others).toEqual([]);
    expect(await e.DB.prepare("SELECT 1 FROM chains WHERE id = ?1").bind(`delivery:${plain.id}`).first()).toBeNull();
  });

  it("createRun is idempotent per scheduled slot", async () => {
    const q = new RunQueue();
    const a = await startRun(q, tenantId, exportId, { trigger: "schedule", scheduledFor: 1_800_000_000 });
    const b = await startRun(q, tenantId, exportId, { trigger: "schedule", scheduledFor: 1_800_000_000 });
    expect(b.id).toBe(a.id);
    const { results } = await e.DB.prepare("SELECT id FROM export_runs WHERE export_id = ?1 AND scheduled_for = 1800000000")
      .bind(exportId)
      .all();
    expect(results).toHaveLength(1);
    // asked twice at once: still one run (the loser's chain finds no run and ends on its first link)
    const [c, d] = await Promise.all([
      startRun(q, tenantId, exportId, { trigger: "schedule", scheduledFor: 1_800_000_060 }),
      startRun(q, tenantId, exportId, { trigger: "schedule", scheduledFor: 1_800_000_060 }),
    ]);
    expect(d.id).toBe(c.id);
    // one run, one chain; delivering its links yields one file
    await drain(q);
    const done = await runRow(a.id);
    expect(done.status).toBe("finished");
    expect(decoder.decode(await fileBytes(done.file_key as string))).toBe(expected);
  });
});
