import { describe, expect, it } from "vitest";
import { enqueueDueRuns } from "../../src/cron/schedules";
import { createServices, fixedClock } from "../../src/services";
import { call, setupTenant, waitFor } from "../helpers";
import { newBucket, s3Config } from "../sources/helpers";
import { control, e } from "../targets/helpers";


describe("daily analytics delivery", () => {
  it("drops one CSV per category and model under analytics/<Category>/ in the tenant's bucket", async () => {
    const t = await setupTenant("analytics");
    const bucket = await newBucket();
    const { key: _k, ...target } = s3Config(bucket) as Record<string, unknown>;
    const put = await call("PUT", "/api/1/analytics", { token: t.token, body: { time: "02:00", target } });
    expect(put.status, put.text).toBe(200);
    expect(put.json.files).toHaveLength(12);
    expect(new Set(put.json.files.map((f: { category: string }) => f.category))).toEqual(
      new Set(["Achievements", "Campaigns", "CustomEvent", "Members", "Points", "Rewards", "Tenant", "Tiers", "Transactions"]),
    );
    // The definitions are ordinary exports: secrets masked when read back.
    const members = put.json.files.find((f: { model: string }) => f.model === "members");
    const def = await call("GET", `/api/1/exports/${members.export_id}`, { token: t.token });
    expect(def.json.target.secret_access_key).toBe("****");
    expect(def.json.target.key).toBe("analytics/Members/members_{date}.csv");
    expect(def.json.schedule).toEqual({ type: "daily", time: "02:00" });

    // Reconfiguring keeps the same exports (and their incremental watermarks).
    const again = await call("PUT", "/api/1/analytics", { token: t.token, body: { time: "03:15", target } });
    expect(again.status, again.text).toBe(200);
    expect(again.json.files.map((f: { export_id: string }) => f.export_id)).toEqual(put.json.files.map((f: { export_id: string }) => f.export_id));
    expect((await call("GET", `/api/1/exports/${members.export_id}`, { token: t.token })).json.schedule.time).toBe("03:15");

    // Only the Members export is made due, so the test waits for one file.
    const ing = await call("POST", "/v1/records/members", {
      headers: { Authorization: `Bearer ${t.apiKey}` },
      body: { members: [{ customer_id: "m-1", email: "m1@example.com", created_at: "2026-11-01 10:00:00" }, { customer_id: "m-2", first_name: "Zoë", created_at: "2026-11-01 10:00:00" }] },
    });
    const now = Math.floor(Date.now() / 1000);
    // A slot just late enough that rows ingested now fall inside its incremental window (slot - 60 s).
    await e.DB.prepare("UPDATE exports SET next_run_at = ?1 WHERE id = ?2").bind(now + 61, members.export_id).run();
    await enqueueDueRuns(createServices(e, { clock: fixedClock((now + 120) * 1000) }));
    const date = new Date(now * 1000).toISOString().slice(0, 10);
    const key = `analytics/Members/members_${date}.csv`;
    const body = await waitFor(async () => {
      const r = await control(`/s3/object?bucket=${bucket}&key=${encodeURIComponent(key)}`);
      if (r.status !== 200) {
        await r.body?.cancel();
        return undefined;
      }
      return r.text();
    }, `s3://${bucket}/${key}`);
    expect(ing.status, ing.text).toBe(201);
    expect(body.split("\n")[0]).toMatch(/^customer_id,email,first_name/);
    expect(body).toContain("m-1,m1@example.com");
    expect(body).toContain("m-2,,Zoë");
  });

  it("validates the settings", async () => {
    const t = await setupTenant("analytics-bad");
    const r = await call("PUT", "/api/1/analytics", { token: t.token, body: { time: "25:00", target: { type: "s3" } } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("validation_failed");
    expect((await call("GET", "/api/1/analytics", { token: t.token })).json).toEqual({ files: [] });
  });
});
