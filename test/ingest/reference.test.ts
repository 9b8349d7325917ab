import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { shardDb } from "../../src/db/shards";
import { call, setupTenant } from "../helpers";

const e = env as unknown as Env;

/** Every JSON example request of reference/ingestion-api.md, body exactly as in its `-d '...'`. */
const EXAMPLES = [
  {
    path: "/v1/actions",
    body: '{ "actions": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "action_id": "2002", "action_name": "buy_item", "action_params": [ {"key": "item_id", "value": "3003" } ] } ] }',
    message: "1 actions have been successfully ingested",
    table: "actions",
    row: { user_id: "1001", action_id: "2002", action_name: "buy_item", action_params: '{"item_id":"3003"}', timestamp: "2019-01-01 15:04:05" },
  },
  {
    path: "/v1/logins",
    body: '{ "users": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "clan_id": "2002", "level": 10, "device": "iPhone X", "country": "US", "language": "en-US", "platform": "Apple", "register_date": "2018-11-14", "last_login_timestamp": "2019-01-01 11:10:06" } ] }',
    message: "1 users have been successfully ingested",
    table: "logins",
    row: { user_id: "1001", clan_id: "2002", level: 10, device: "iPhone X", country: "US", language: "en-US", platform: "Apple", register_date: "2018-11-14", last_login_timestamp: "2019-01-01 11:10:06" },
  },
  {
    path: "/v1/purchases",
    body: '{ "purchases": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "item_id": "2002", "count": 1, "price": 25.50, "platform": "Steam" } ] }',
    message: "1 purchases have been successfully ingested",
    table: "purchases",
    row: { user_id: "1001", item_id: "2002", count: 1, price: 25.5, platform: "Steam" },
  },
  {
    path: "/v1/virtual-purchases",
    body: '{ "virtual_purchases": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "item_id": "2002", "count": 1, "virtual_price": 25.50, "currency": "gold" } ] }',
    message: "1 virtual purchases have been successfully ingested",
    table: "virtual_purchases",
    row: { user_id: "1001", item_id: "2002", count: 1, virtual_price: 25.5, currency: "gold" },
  },
  {
    path: "/v1/level-ups",
    body: '{ "level_ups": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "level": 10 } ] }',
    message: "1 level-ups have been successfully ingested",
    table: "level_ups",
    row: { user_id: "1001", level: 10, timestamp: "2019-01-01 15:04:05" },
  },
  {
    path: "/v1/items",
    body: '{ "items": [ { "item_id": "1001", "price": 25.50, "currency": "USD", "name": "Axe", "type": "weapon" } ] }',
    message: "1 items have been successfully ingested",
    table: "items",
    row: { item_id: "1001", price: 25.5, currency: "USD", name: "Axe", type: "weapon" },
  },
  {
    path: "/v1/social-dynamics",
    body: '{ "social_dynamics": [ { "timestamp": "2019-01-01 15:04:05", "user_id": "1001", "target_user_id": "1002", "connection": "linked", "interaction": "friend" } ] }',
    message: "1 social dynamics have been successfully ingested",
    table: "social_dynamics",
    row: { user_id: "1001", target_user_id: "1002", connection: "linked", interaction: "friend", interaction_params: null },
  },
] as const;

async function rowsOf(shardOf: { tenantId: string }, table: string) {
  const out: Record<string, unknown>[] = [];
  for (const s of [0, 1]) {
    const { results } = await shardDb(e, s).prepare(`SELECT * FROM ${table} WHERE tenant_id = ?1`).bind(shardOf.tenantId).all();
    out.push(...(results as Record<string, unknown>[]));
  }
  return out;
}

describe("reference examples, sent as written", () => {
  for (const ex of EXAMPLES) {
    it(`POST ${ex.path} answers the documented 201 and stores the item`, async () => {
      const t = await setupTenant("ref");
      const r = await call("POST", ex.path, { body: ex.body, token: t.apiKey });
      expect(r.status, r.text).toBe(201);
      expect(r.json).toEqual({ code: 201, message: ex.message, data: null });
      const rows = await rowsOf({ tenantId: t.tenant.id }, ex.table);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject(ex.row);
    });
  }

  it("the behavioural-data examples of social dynamics (interaction_params) are accepted with a connection, which is required", async () => {
    const t = await setupTenant("ref2");
    // The reference's field table marks connection required (its behavioural examples omit it).
    const none = await call("POST", "/v1/social-dynamics", {
      token: t.apiKey,
      body: { social_dynamics: [{ timestamp: "2019-01-01 15:04:05", user_id: "1001", target_user_id: "1002", interaction: "unfriend" }] },
    });
    expect(none.status).toBe(400);
    expect(none.json.data.errors).toEqual([{ index: 0, field: "connection", reason: "is required" }]);
    const sd = await call("POST", "/v1/social-dynamics", {
      token: t.apiKey,
      body: {
        social_dynamics: [
          {
            timestamp: "2019-01-01 15:04:05",
            user_id: "1001",
            target_user_id: "1002",
            connection: "linked",
            interaction: "gift_sent",
            interaction_params: [
              { key: "item_id", value: "54645" },
              { key: "message", value: "Thanks for helping out the another day!" },
            ],
          },
          { timestamp: "2019-01-01 15:04:05", user_id: "1001", target_user_id: "1002", connection: "unlinked", interaction: "unfriend", interaction_params: [] },
        ],
      },
    });
    expect(sd.status, sd.text).toBe(201);
    expect(sd.json.message).toBe("2 social dynamics have been successfully ingested");
    const rows = await rowsOf({ tenantId: t.tenant.id }, "social_dynamics");
    expect(rows.map((r) => r.interaction_params).sort()).toEqual([
      '{"item_id":"54645","message":"Thanks for helping out the another day!"}',
      "{}",
    ]);
  });

  it("an unknown key, no key and another tenant's key are refused with the /v1 envelope", async () => {
    const none = await call("POST", "/v1/actions", { body: EXAMPLES[0].body });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ code: 401, data: null });
    expect(none.json.message).toMatch(/API key/);
    const bad = await call("POST", "/v1/actions", { body: EXAMPLES[0].body, token: "fk_not-a-key" });
    expect(bad.status).toBe(401);
  });
});

describe("OpenAPI", () => {
  it("documents every ingestion route with item fields from the catalog", async () => {
    const r = await call("GET", "/openapi.json");
    const paths = Object.keys(r.json.paths);
    for (const p of ["/v1/actions", "/v1/logins", "/v1/social-dynamics", "/v1/records/members", "/v1/user-data", "/v1/user-data/{request_id}", "/v1/assessment/user/status", "/v1/playfab"]) {
      expect(paths, p).toContain(p);
    }
    const body = r.json.paths["/v1/logins"].post.requestBody.content["application/json"].schema;
    const text = JSON.stringify(r.json);
    expect(JSON.stringify(body)).toMatch(/users/);
    expect(text).toMatch(/last_login_timestamp/);
  });
});
