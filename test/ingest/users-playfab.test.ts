import { describe, expect, it } from "vitest";
import { call, setupTenant } from "../helpers";
import { countRows, e } from "./util";

describe("GET /v1/assessment/user/status", () => {
  it("answers completed and completed_at from survey responses", async () => {
    const t = await setupTenant("survey");
    const status = (id: string) => call("GET", `/v1/assessment/user/status?id=${encodeURIComponent(id)}`, { token: t.apiKey });
    const none = await status("u1");
    expect(none.json).toEqual({ code: 200, message: "", data: { completed: false, completed_at: null } });
    // survey responses arrive by CSV upload; written here through the shared ingestion core
    const { insertRows, validateItems } = await import("../../src/ingest/batch");
    const { createServices } = await import("../../src/services");
    const { getModel } = await import("../../src/models");
    const model = getModel("survey_responses");
    if (!model) throw new Error("no model");
    const v = validateItems(model, [
      { timestamp: "2020-04-02 05:55:49", user_id: "u1", question_id: "q1", answer: "yes", completed: false },
      { timestamp: "2020-04-02 05:55:49", user_id: "u1", question_id: "q9", completed: true },
    ]);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    await insertRows(createServices(e), t.tenant.id, model, v.rows);
    const done = await status("u1");
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ code: 200, message: "", data: { completed: true, completed_at: 1585806949 } });
    const missing = await call("GET", "/v1/assessment/user/status", { token: t.apiKey });
    expect(missing.status).toBe(400);
    const other = await setupTenant("survey-other");
    const iso = await call("GET", "/v1/assessment/user/status?id=u1", { token: other.apiKey });
    expect(iso.json.data.completed).toBe(false);
  });
});

describe("POST /v1/playfab", () => {
  const common = { EventNamespace: "com.playfab", EntityType: "player", Source: "PlayFab", TitleId: "ABCD", EventId: "e1" };
  it("maps PlayStream events to the models, authenticated by ?api_key=", async () => {
    const t = await setupTenant("playfab");
    const events = [
      { ...common, EventName: "player_logged_in", EntityId: "P1", Timestamp: "2019-01-01T15:04:05.1234567Z", Platform: "Steam", Location: { CountryCode: "US" } },
      { ...common, EventName: "player_realmoney_purchase", EntityId: "P1", Timestamp: "2019-01-01T15:05:00Z", OrderTotal: 2550, PurchasedProduct: ["sword"], PaymentProvider: "Steam" },
      { ...common, EventName: "player_vc_item_purchased", EntityId: "P1", Timestamp: "2019-01-01T15:06:00Z", ItemId: "shield", Quantity: 2, UnitPrice: 10, CurrencyCode: "GO" },
      { ...common, EventName: "player_statistic_changed", EntityId: "P1", Timestamp: "2019-01-01T15:07:00Z", StatisticName: "Level", StatisticValue: 4 },
      { ...common, EventName: "fight_won", EventNamespace: "title.ABCD", EntityId: "P1", Timestamp: "2019-01-01T15:08:00Z", EnemyId: "P2", CustomTags: { arena: "3" } },
      { ...common, EventName: "title_statistic_version_changed", EntityType: "title", EntityId: "ABCD", Timestamp: "2019-01-01T15:09:00Z" },
    ];
    const r = await call("POST", `/v1/playfab?api_key=${t.apiKey}`, { body: events });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toEqual({
      code: 201,
      message: "5 events have been successfully ingested",
      data: { models: { logins: 1, purchases: 1, virtual_purchases: 1, level_ups: 1, actions: 1 }, skipped: 1 },
    });
    expect(await countRows(t.tenant.id, "logins", "user_id = 'P1' AND country = 'US' AND timestamp = '2019-01-01 15:04:05'")).toBe(1);
    expect(await countRows(t.tenant.id, "purchases", "item_id = 'sword' AND price = 25.5")).toBe(1);
    expect(await countRows(t.tenant.id, "virtual_purchases", "count = 2 AND virtual_price = 20")).toBe(1);
    expect(await countRows(t.tenant.id, "level_ups", "level = 4")).toBe(1);
    expect(
      await countRows(t.tenant.id, "actions", `action_id = 'title.ABCD.fight_won' AND action_params = '{"EnemyId":"P2","tag.arena":"3"}'`),
    ).toBe(1);

    const single = await call("POST", `/v1/playfab?api_key=${t.apiKey}`, { body: events[0] });
    expect(single.status).toBe(201);
    expect(single.json.message).toBe("1 events have been successfully ingested");
  });

  it("refuses a missing key and invalid events (naming the event index), writing nothing", async () => {
    const t = await setupTenant("playfab-bad");
    expect((await call("POST", "/v1/playfab", { body: { ...common } })).status).toBe(401);
    const r = await call("POST", `/v1/playfab?api_key=${t.apiKey}`, {
      body: [
        { ...common, EventName: "player_logged_in", EntityId: "P1", Timestamp: "2019-01-01T15:04:05Z" },
        { ...common, EventName: "player_logged_in", Timestamp: "yesterday" },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.json.data.errors.map((x: { index: number; field: string }) => [x.index, x.field])).toEqual([
      [1, "timestamp"],
      [1, "user_id"],
    ]);
    expect(await countRows(t.tenant.id, "logins")).toBe(0);
  });
});
