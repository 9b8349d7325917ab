import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { enqueueDueRuns, WATERMARK_SETTLE_SECONDS } from "../../src/cron/schedules";
import { getExportRow } from "../../src/db/exports";
import type { Env } from "../../src/env";
import { nextRunAt as nextSlot } from "../../src/exports/schedule";
import { createServices, fixedClock } from "../../src/services";
import { call, setupTenant, waitFor } from "../helpers";

const e = env as unknown as Env;

/** One cron tick's schedules task at `now` (epoch seconds); run links go to the real queue. */
const tick = (now: number) => enqueueDueRuns(createServices(e, { clock: fixedClock(now * 1000) }));

const body = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  model: "logins",
  all_fields: true,
  schedule: { type: "daily", time: "06:30" },
  ...extra,
});

async function createExport(token: string, b: Record<string, unknown>): Promise<string> {
  const r = await call("POST", "/api/1/exports", { token, body: b });
  expect(r.status, r.text).toBe(201);
  return r.json.id;
}

const nextRunAt = async (id: string) =>
  (await e.DB.prepare("SELECT next_run_at FROM exports WHERE id = ?1").bind(id).first<{ next_run_at: number | null }>())!.next_run_at;

const runsOf = async (id: string) =>
  (
    await e.DB.prepare("SELECT id, trigger, scheduled_for, watermark_after, watermark_until FROM export_runs WHERE export_id = ?1 ORDER BY scheduled_for, created_at, id")
      .bind(id)
      .all<{ id: string; trigger: string; scheduled_for: number; watermark_after: number | null; watermark_until: number | null }>()
  ).results;

/** Puts the export's next slot `secondsAgo` in the past, as if the cron had been late. */
async function makeDue(id: string, slot: number) {
  await e.DB.prepare("UPDATE exports SET next_run_at = ?1 WHERE id = ?2").bind(slot, id).run();
}

describe("scheduled exports", () => {
  it("stores the next run time on create and shows it changing with the schedule", async () => {
    const { token } = await setupTenant("sched-next");
    const now = Math.floor(Date.now() / 1000);
    const id = await createExport(token, body("daily-0630"));
    const next = await nextRunAt(id);
    expect(next).not.toBeNull();
    expect(next!).toBeGreaterThan(now);
    expect(next! - now).toBeLessThanOrEqual(86_400);
    expect(new Date(next! * 1000).toISOString().slice(11, 16)).toBe("06:30");
    expect((await call("GET", `/api/1/exports/${id}`, { token })).json.next_run_at).toBe(next);
    const manual = await createExport(token, body("manual-only", { schedule: { type: "now" } }));
    expect(await nextRunAt(manual)).toBeNull();
  });

  it("a cron that fires twice (even concurrently) makes one run per slot, then moves to the next slot", async () => {
    const { token } = await setupTenant("sched-twice");
    const id = await createExport(token, body("twice"));
    const now = Math.floor(Date.now() / 1000);
    const slot = now - 120;
    await makeDue(id, slot);
    await Promise.all([tick(now), tick(now)]);
    await tick(now);
    const runs = await runsOf(id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "schedule", scheduled_for: slot });
    const next = await nextRunAt(id);
    expect(next!).toBeGreaterThan(now);
    // Re-setting the same slot (a redelivered tick for a slot already handled) still makes no second run.
    await makeDue(id, slot);
    await tick(now);
    expect(await runsOf(id)).toHaveLength(1);
  });

  it("disabled and draft definitions do not run; enabling schedules from now", async () => {
    const { token } = await setupTenant("sched-disabled");
    const id = await createExport(token, body("disabled"));
    expect((await call("POST", `/api/1/exports/${id}/disable`, { token })).status).toBe(200);
    expect(await nextRunAt(id)).toBeNull();
    const now = Math.floor(Date.now() / 1000);
    await makeDue(id, now - 60); // even with a stale due time, a disabled export never runs
    await tick(now);
    expect(await runsOf(id)).toHaveLength(0);

    const draft = await createExport(token, body("draft", { status: "draft" }));
    await makeDue(draft, now - 60);
    await tick(now);
    expect(await runsOf(draft)).toHaveLength(0);

    expect((await call("POST", `/api/1/exports/${id}/enable`, { token })).status).toBe(200);
    expect(await nextRunAt(id)).toBeGreaterThan(now);
    expect(await runsOf(id)).toHaveLength(0);
  });

  it("once schedules run once and then never again", async () => {
    const { tenant, token } = await setupTenant("sched-once");
    const at = new Date(Date.now() + 3600_000).toISOString();
    const id = await createExport(token, body("once", { schedule: { type: "once", at } }));
    const slot = await nextRunAt(id);
    expect(slot).toBe(Math.floor(Date.parse(at) / 1000));
    await tick(slot! + 5);
    expect(await runsOf(id)).toHaveLength(1);
    expect(await nextRunAt(id)).toBeNull();
    // and the schedule itself has no slot after it
    expect(nextSlot({ type: "once", at }, slot! + 10)).toBeNull();
    expect(await getExportRow(createServices(e).db, tenant.id, id)).toMatchObject({ next_run_at: null, schedule_error: null });
  });

  it("incremental runs tile ingestion time: each starts where the last successful one ended", async () => {
    const { token } = await setupTenant("sched-incr");
    const id = await createExport(token, body("incremental", { incremental: true }));
    const now = Math.floor(Date.now() / 1000);
    const slot1 = now - 2 * 86_400;
    await makeDue(id, slot1);
    await tick(slot1 + 1);
    const [first] = await runsOf(id);
    expect(first).toMatchObject({ watermark_after: null, watermark_until: slot1 - WATERMARK_SETTLE_SECONDS });

    // The first run is made by the real queue consumer (its chain); the next slot continues
    // from where that finished run ended.
    const status = await waitFor(async () => {
      const st = await e.DB.prepare("SELECT status FROM export_runs WHERE id = ?1").bind(first!.id).first<{ status: string }>();
      return st?.status === "finished" || st?.status === "failed" ? st.status : undefined;
    }, "the first scheduled run to end");
    expect(status).toBe("finished");
    const slot2 = slot1 + 86_400;
    await makeDue(id, slot2);
    await tick(slot2 + 1);
    const second = (await runsOf(id))[1]!;
    expect(second.watermark_after).toBe(first!.watermark_until);
    expect(second.watermark_until).toBe(slot2 - WATERMARK_SETTLE_SECONDS);
  });

  it("one definition that cannot be read or run does not hold up the others: it is marked failed with its reason", async () => {
    const { token } = await setupTenant("sched-poison");
    const bad = await createExport(token, body("bad-json"));
    const invalid = await createExport(token, body("bad-schema"));
    const good = await createExport(token, body("good"));
    const now = Math.floor(Date.now() / 1000);
    // the broken ones are due first, so they sort first in the tick
    await makeDue(bad, now - 300);
    await makeDue(invalid, now - 200);
    await makeDue(good, now - 100);
    await e.DB.prepare(`UPDATE exports SET definition = '{"name": "bad-json", ' WHERE id = ?1`).bind(bad).run();
    await e.DB.prepare(`UPDATE exports SET definition = json_set(definition, '$.schedule', json('{"type":"hourly"}')) WHERE id = ?1`).bind(invalid).run();

    await tick(now);
    expect(await runsOf(good)).toHaveLength(1);
    expect(await nextRunAt(good)).toBeGreaterThan(now);
    expect(await runsOf(bad)).toHaveLength(0);
    expect(await runsOf(invalid)).toHaveLength(0);
    expect(await e.DB.prepare("SELECT next_run_at, schedule_error FROM exports WHERE id = ?1").bind(bad).first()).toEqual({
      next_run_at: null,
      schedule_error: expect.stringMatching(/^slot \d+: the stored definition is not JSON/),
    });
    // the API shows why, for the unreadable one too (and the list still answers)
    const shown = await call("GET", `/api/1/exports/${invalid}`, { token });
    expect(shown.json).toMatchObject({ next_run_at: null, schedule_error: expect.stringMatching(/the stored definition is invalid: schedule/) });
    const unreadable = await call("GET", `/api/1/exports/${bad}`, { token });
    expect(unreadable.status).toBe(200);
    expect(unreadable.json).toMatchObject({ name: "bad-json", next_run_at: null, schedule_error: expect.stringMatching(/not JSON/) });
    expect((await call("GET", "/api/1/exports", { token })).json.total).toBe(3);

    // later ticks do not pick them again
    await tick(now + 1);
    expect(await runsOf(bad)).toHaveLength(0);
    expect(await runsOf(invalid)).toHaveLength(0);

    // replacing the definition (disable, edit, enable) schedules it again and clears the error
    expect((await call("POST", `/api/1/exports/${invalid}/disable`, { token })).status).toBe(200);
    expect((await call("PUT", `/api/1/exports/${invalid}`, { token, body: body("bad-schema", { status: "draft" }) })).status).toBe(200);
    const enabled = await call("POST", `/api/1/exports/${invalid}/enable`, { token });
    expect(enabled.json.schedule_error).toBeNull();
    expect(enabled.json.next_run_at).toBeGreaterThan(now);
  });
});
