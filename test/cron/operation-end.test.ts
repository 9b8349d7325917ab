import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { startCampaignEndRuns } from "../../src/cron/operation-end";
import type { Env } from "../../src/env";
import { runCron } from "../../src/cron";
import { createServices, fixedClock } from "../../src/services";
import { call, ingestRecords as ingest, setupTenant, waitFor } from "../helpers";

const e = env as unknown as Env;

/** The cron's operation-end task at `now` (epoch seconds); run links go to the real queue. */
const tick = (now: number) => startCampaignEndRuns(createServices(e, { clock: fixedClock(now * 1000) }));

const stored = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");

const runsOf = async (exportId: string) =>
  (
    await e.DB.prepare("SELECT id, trigger, definition FROM export_runs WHERE export_id = ?1 ORDER BY created_at, id")
      .bind(exportId)
      .all<{ id: string; trigger: string; definition: string }>()
  ).results;

const triggersOf = async (exportId: string) =>
  (
    await e.DB.prepare("SELECT campaign_code, run_id FROM campaign_triggers WHERE export_id = ?1 ORDER BY campaign_code")
      .bind(exportId)
      .all<{ campaign_code: string; run_id: string }>()
  ).results;


describe("schedule operation_end (at the end of the operation)", () => {
  it("starts one run per campaign when its end passes, scoped to that campaign, exactly once even when the cron fires twice", async () => {
    const t = await setupTenant("op-end");
    const now = Math.floor(Date.now() / 1000);
    await ingest(t.apiKey, "campaigns", [
      { campaign_code: "SPRING", campaign_name: "Spring", campaign_start: stored(now - 86_400), campaign_end: stored(now + 3600) },
      { campaign_code: "SUMMER", campaign_name: "Summer", campaign_start: stored(now - 86_400), campaign_end: stored(now + 7200) },
      // ended before the definition existed: never triggers it
      { campaign_code: "WINTER", campaign_name: "Winter", campaign_start: stored(now - 10 * 86_400), campaign_end: stored(now - 86_400) },
      // no end date: never triggers
      { campaign_code: "OPEN", campaign_name: "Open-ended", campaign_start: stored(now - 86_400) },
    ]);
    await ingest(t.apiKey, "campaign_executions", [
      { execution_id: "x1", campaign_code: "SPRING", customer_id: "c1", effect: "points", value: 10, executed_at: stored(now - 100) },
      { execution_id: "x2", campaign_code: "SUMMER", customer_id: "c2", effect: "points", value: 20, executed_at: stored(now - 100) },
      { execution_id: "x3", campaign_code: "SPRING", customer_id: "c3", effect: "coupon", value: 1, executed_at: stored(now - 50) },
    ]);
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: {
        name: "campaign-results",
        model: "campaign_executions",
        fields: [{ from: "execution_id" }, { from: "campaign_code" }, { from: "customer_id" }],
        schedule: { type: "operation_end" },
      },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id;
    expect(created.json.next_run_at).toBeNull();
    expect(created.json.run).toBeUndefined();

    expect(await tick(now + 1800)).toBe(0);
    expect(await runsOf(id)).toEqual([]);

    // SPRING ended: two ticks at once and one after make one run.
    const counts = await Promise.all([tick(now + 3601), tick(now + 3601)]);
    await tick(now + 3700);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    const [spring, ...more] = await runsOf(id);
    expect(more).toEqual([]);
    expect(spring!.trigger).toBe("operation_end");
    expect(await triggersOf(id)).toEqual([{ campaign_code: "SPRING", run_id: spring!.id }]);

    const done = await waitFor(async () => {
      const r = await call("GET", `/api/1/exports/${id}/runs/${spring!.id}`, { token: t.token });
      return r.json.status === "finished" || r.json.status === "failed" ? r.json : undefined;
    }, "the SPRING run");
    expect(done.status, done.error).toBe("finished");
    const file = await SELF.fetch(done.download_url);
    expect(await file.text()).toBe("execution_id,campaign_code,customer_id\nx1,SPRING,c1\nx3,SPRING,c3\n");

    // SUMMER ended too, found by the whole cron entry; WINTER and OPEN never trigger.
    await runCron({} as ScheduledController, e, {} as ExecutionContext, createServices(e, { clock: fixedClock((now + 10_000) * 1000) }));
    await tick(now + 20_000);
    expect((await triggersOf(id)).map((r) => r.campaign_code)).toEqual(["SPRING", "SUMMER"]);
    expect(await runsOf(id)).toHaveLength(2);
  });

  it("a disabled definition waits; a model without campaign_code runs unscoped; another tenant's campaigns never trigger", async () => {
    const t = await setupTenant("op-end-2");
    const other = await setupTenant("op-end-other");
    const now = Math.floor(Date.now() / 1000);
    const id = (
      await call("POST", "/api/1/exports", {
        token: t.token,
        body: { name: "logins-at-end", model: "logins", all_fields: true, schedule: { type: "operation_end" } },
      })
    ).json.id;
    await ingest(other.apiKey, "campaigns", [{ campaign_code: "THEIRS", campaign_name: "Theirs", campaign_end: stored(now + 60) }]);
    await tick(now + 120);
    expect(await runsOf(id)).toEqual([]);

    await ingest(t.apiKey, "campaigns", [{ campaign_code: "OURS", campaign_name: "Ours", campaign_end: stored(now + 60) }]);
    expect((await call("POST", `/api/1/exports/${id}/disable`, { token: t.token })).status).toBe(200);
    await tick(now + 120);
    expect(await runsOf(id)).toEqual([]);
    expect((await call("POST", `/api/1/exports/${id}/enable`, { token: t.token })).status).toBe(200);
    await tick(now + 120);
    const runs = await runsOf(id);
    expect(runs).toHaveLength(1);
    // logins has no campaign_code: the run exports what the definition says, unchanged
    expect(JSON.parse(runs[0]!.definition).filters).toEqual([]);
  });
});
