import { describe, expect, it } from "vitest";
import { describeSchedule } from "../../src/backoffice/describe";
import { call, setupTenant, waitFor } from "../helpers";

/**
 * "By default, export runs at request time" (export module reference): a definition without a
 * schedule, or with `now`, starts a run when it is published, and the answer carries it;
 * `manual` runs only when asked; drafts never run.
 */
const base = { model: "logins", all_fields: true };

async function runsOf(token: string, exportId: string): Promise<{ id: string; trigger: string; status: string }[]> {
  const r = await call("GET", `/api/1/exports/${exportId}/runs`, { token });
  expect(r.status, r.text).toBe(200);
  return r.json.runs;
}

describe("run at request time by default", () => {
  it("creating a definition without a schedule starts a run, carried by the 201, that finishes", async () => {
    const t = await setupTenant("publish-default");
    const r = await call("POST", "/api/1/exports", { token: t.token, body: { name: "no-schedule", ...base } });
    expect(r.status, r.text).toBe(201);
    expect(r.json.schedule).toEqual({ type: "now" });
    expect(r.json.run).toEqual({ id: expect.stringMatching(/^run_/), status: "pending" });
    const runs = await runsOf(t.token, r.json.id);
    expect(runs.map((x) => [x.id, x.trigger])).toEqual([[r.json.run.id, "publish"]]);
    const done = await waitFor(async () => {
      const g = await call("GET", `/api/1/exports/${r.json.id}/runs/${r.json.run.id}`, { token: t.token });
      return g.json.status === "finished" || g.json.status === "failed" ? g.json : undefined;
    }, "the publish run");
    expect(done.status).toBe("finished");
    // GET does not carry a `run`: only the call that started one does.
    expect((await call("GET", `/api/1/exports/${r.json.id}`, { token: t.token })).json.run).toBeUndefined();
  });

  it("schedule now as a draft does not run; publishing it (PATCH) does, once", async () => {
    const t = await setupTenant("publish-draft");
    const d = await call("POST", "/api/1/exports", { token: t.token, body: { name: "drafted", ...base, schedule: { type: "now" }, status: "draft" } });
    expect(d.status, d.text).toBe(201);
    expect(d.json.run).toBeUndefined();
    expect(await runsOf(t.token, d.json.id)).toEqual([]);
    const p = await call("PATCH", `/api/1/exports/${d.json.id}`, { token: t.token, body: { status: "active" } });
    expect(p.status, p.text).toBe(200);
    expect(p.json.run).toEqual({ id: expect.stringMatching(/^run_/), status: "pending" });
    expect((await runsOf(t.token, d.json.id)).map((x) => x.id)).toEqual([p.json.run.id]);
    // Enabling an export that is already active starts nothing.
    const again = await call("POST", `/api/1/exports/${d.json.id}/enable`, { token: t.token });
    expect(again.status).toBe(200);
    expect(again.json.run).toBeUndefined();
    expect(await runsOf(t.token, d.json.id)).toHaveLength(1);
    // Disable then enable: published again, so it runs again.
    expect((await call("POST", `/api/1/exports/${d.json.id}/disable`, { token: t.token })).status).toBe(200);
    const en = await call("POST", `/api/1/exports/${d.json.id}/enable`, { token: t.token });
    expect(en.json.run).toEqual({ id: expect.stringMatching(/^run_/), status: "pending" });
    expect(await runsOf(t.token, d.json.id)).toHaveLength(2);
  });

  it("manual and timed schedules do not run on publish; manual runs when asked", async () => {
    const t = await setupTenant("publish-manual");
    const m = await call("POST", "/api/1/exports", { token: t.token, body: { name: "by-hand", ...base, schedule: { type: "manual" } } });
    expect(m.status, m.text).toBe(201);
    expect(m.json.schedule).toEqual({ type: "manual" });
    expect(m.json.run).toBeUndefined();
    expect(m.json.next_run_at).toBeNull();
    const daily = await call("POST", "/api/1/exports", { token: t.token, body: { name: "daily", ...base, schedule: { type: "daily", time: "06:00" } } });
    expect(daily.json.run).toBeUndefined();
    expect(await runsOf(t.token, m.json.id)).toEqual([]);
    expect(await runsOf(t.token, daily.json.id)).toEqual([]);
    const asked = await call("POST", `/api/1/exports/${m.json.id}/runs`, { token: t.token });
    expect(asked.status).toBe(202);
    expect((await runsOf(t.token, m.json.id)).map((x) => x.trigger)).toEqual(["manual"]);
    // Not "scheduled": manual runs only when asked.
    const scheduled = await call("GET", "/api/1/exports?category=scheduled", { token: t.token });
    expect(scheduled.json.exports.map((x: { name: string }) => x.name)).toEqual(["daily"]);
  });

  it("the back office describes now and manual in words", () => {
    expect(describeSchedule({ type: "now" })).toBe("once when published, then when started with Run now or the API");
    expect(describeSchedule({ type: "manual" })).toBe("only when started, with Run now or the API");
  });
});
