import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, ingestRecords as ingest, setupTenant, waitFor } from "../helpers";


describe("export templates (rapid exports)", () => {
  it("lists the templates with their parameters; needs exports-manage", async () => {
    const t = await setupTenant("tpl-list");
    const r = await call("GET", "/api/1/exports/templates", { token: t.token });
    expect(r.status, r.text).toBe(200);
    const ids = r.json.templates.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining(["game-winners", "participants", "campaign-results", "new-members", "purchases"]));
    const winners = r.json.templates.find((x: { id: string }) => x.id === "game-winners");
    expect(winners).toMatchObject({ family: "loyalty", model: "participations" });
    expect(winners.parameters).toEqual(
      expect.arrayContaining([
        { name: "game_instance", type: "string", required: true, description: expect.stringContaining("stackinstanceid") },
        { name: "name", type: "string", required: false, description: expect.any(String) },
      ]),
    );
    const families = new Set(r.json.templates.map((x: { family: string }) => x.family));
    expect(families).toEqual(new Set(["loyalty", "events"]));
    const viewer = await setupTenant("tpl-viewer", ["automated-exports-view"]);
    expect((await call("GET", "/api/1/exports/templates", { token: viewer.token })).status).toBe(403);
    expect((await call("GET", "/api/1/exports/templates")).status).toBe(401);
  });

  it("creates a real definition from a template that runs and exports the winners of one game", async () => {
    const t = await setupTenant("tpl-create");
    await ingest(t.apiKey, "participations", [
      { user_id: "u1", stackinstanceid: "g1", value: 10, has_won: true, participation_date: "2026-03-01 10:00:00" },
      { user_id: "u2", stackinstanceid: "g1", value: 5, has_won: false, participation_date: "2026-03-01 11:00:00" },
      { user_id: "u3", stackinstanceid: "g2", value: 7, has_won: true, participation_date: "2026-03-01 12:00:00" },
      { user_id: "u4", stackinstanceid: "g1", value: 9, has_won: true, participation_date: "2026-03-02 09:00:00" },
    ]);
    const r = await call("POST", "/api/1/exports/templates/game-winners", { token: t.token, body: { game_instance: "g1", name: "spring-winners" } });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ id: expect.stringMatching(/^exp_/), name: "spring-winners", model: "participations", status: "active", schedule: { type: "now" } });
    expect(r.json.run).toMatchObject({ id: expect.stringMatching(/^run_/), status: "pending" });
    // a real definition: readable and listed like any other
    expect((await call("GET", `/api/1/exports/${r.json.id}`, { token: t.token })).json.name).toBe("spring-winners");

    const run = await waitFor(async () => {
      const x = await call("GET", `/api/1/exports/${r.json.id}/runs/${r.json.run.id}`, { token: t.token });
      return x.json.status === "finished" || x.json.status === "failed" ? x.json : undefined;
    }, "the template's run");
    expect(run.status, run.error).toBe("finished");
    const file = await SELF.fetch(run.download_url);
    expect(await file.text()).toBe("user_id,stackinstanceid,value,participation_date\nu1,g1,10,2026-03-01 10:00:00\nu4,g1,9,2026-03-02 09:00:00\n");
  });

  it("every template makes a definition the catalog accepts", async () => {
    const t = await setupTenant("tpl-all");
    const sample: Record<string, string> = { game_instance: "g1", campaign_code: "SPRING", from: "2026-01-01", to: "2026-01-31" };
    for (const tpl of (await call("GET", "/api/1/exports/templates", { token: t.token })).json.templates) {
      const params = Object.fromEntries(tpl.parameters.filter((p: { required: boolean }) => p.required).map((p: { name: string }) => [p.name, sample[p.name]]));
      const r = await call("POST", `/api/1/exports/templates/${tpl.id}`, { token: t.token, body: { ...params, schedule: { type: "manual" } } });
      expect(r.status, `${tpl.id}: ${r.text}`).toBe(201);
      expect(r.json.model).toBe(tpl.model);
    }
  });

  it("participants over a period: the period is a filter from the first day's start to the last day's end; campaign-results without a campaign waits for campaign ends", async () => {
    const t = await setupTenant("tpl-period");
    const r = await call("POST", "/api/1/exports/templates/participants", { token: t.token, body: { from: "2026-03-01", to: "2026-03-31", schedule: { type: "manual" } } });
    expect(r.status, r.text).toBe(201);
    expect(r.json.filters).toEqual([
      [
        { field: "participation_date", op: "gte", value: "2026-03-01 00:00:00" },
        { field: "participation_date", op: "lte", value: "2026-03-31 23:59:59" },
      ],
    ]);
    expect(r.json.run).toBeUndefined();
    const c = await call("POST", "/api/1/exports/templates/campaign-results", { token: t.token });
    expect(c.status, c.text).toBe(201);
    expect(c.json).toMatchObject({ name: "campaign-results", model: "campaign_executions", schedule: { type: "operation_end" }, filters: [] });
    // the same name twice: 409 like POST /api/1/exports
    expect((await call("POST", "/api/1/exports/templates/campaign-results", { token: t.token })).status).toBe(409);
  });

  it("bad parameters are a 400 naming them; an unknown template is a 404", async () => {
    const t = await setupTenant("tpl-bad");
    const missing = await call("POST", "/api/1/exports/templates/game-winners", { token: t.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain("game_instance");
    const unknown = await call("POST", "/api/1/exports/templates/game-winners", { token: t.token, body: { game_instance: "g1", colour: "red" } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain("colour");
    const day = await call("POST", "/api/1/exports/templates/purchases", { token: t.token, body: { from: "March 1st", to: "2026-03-31" } });
    expect(day.status).toBe(400);
    expect(day.json.error.message).toContain("from");
    const nf = await call("POST", "/api/1/exports/templates/no-such-template", { token: t.token, body: {} });
    expect(nf.status).toBe(404);
    expect((await call("GET", "/api/1/exports?per_page=100", { token: t.token })).json.total).toBe(0);
  });
});
