import { describe, expect, it } from "vitest";
import { call, setupTenant, waitFor } from "../helpers";
import { action, actions, countRows } from "./util";

describe("batch limits", () => {
  it("1000 items are accepted, 1001 and an empty list are refused and write nothing", async () => {
    const t = await setupTenant("limits");
    const ok = await call("POST", "/v1/actions", { token: t.apiKey, body: { actions: actions(1000) } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json).toEqual({ code: 201, message: "1000 actions have been successfully ingested", data: null });
    expect(await countRows(t.tenant.id, "actions")).toBe(1000);

    const over = await call("POST", "/v1/actions", { token: t.apiKey, body: { actions: actions(1001) } });
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ code: 400, data: null });
    expect(over.json.message).toMatch(/1001 items; at most 1000/);

    const empty = await call("POST", "/v1/actions", { token: t.apiKey, body: { actions: [] } });
    expect(empty.status).toBe(400);
    expect(empty.json.message).toMatch(/empty/);
    expect(await countRows(t.tenant.id, "actions")).toBe(1000);
  });

  it("one bad item refuses the batch, naming index, field and reason; nothing is written", async () => {
    const t = await setupTenant("bad-item");
    const items: Record<string, unknown>[] = actions(500);
    items[137] = { ...action(137), timestamp: "2019-13-01 15:04:05" };
    items[420] = { ...action(420), user_id: undefined };
    const r = await call("POST", "/v1/actions", { token: t.apiKey, body: { actions: items } });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe(400);
    expect(r.json.message).toMatch(/nothing was ingested/);
    expect(r.json.data.errors).toEqual([
      { index: 137, field: "timestamp", reason: expect.stringMatching(/YYYY-MM-DD HH:MM:SS/) },
      { index: 420, field: "user_id", reason: "is required" },
    ]);
    expect(r.json.data.error_count).toBe(2);
    expect(await countRows(t.tenant.id, "actions")).toBe(0);
  });

  it("malformed bodies get clear 4xx answers in the /v1 envelope", async () => {
    const t = await setupTenant("malformed");
    const cases: [string, string, number, RegExp][] = [
      ["{not json", "application/json", 400, /Malformed JSON/],
      ["", "application/json", 400, /empty/],
      ["[1,2]", "application/json", 400, /JSON object/],
      ['{"users": []}', "application/json", 400, /"actions"/],
      ['{"actions": {}}', "application/json", 400, /list/],
      ['{"actions": [{}], "extra": 1}', "application/json", 400, /Unknown top-level field/],
      ['{"actions": [1]}', "application/json", 400, /JSON object/],
      ['{"actions": []}', "text/csv", 415, /application\/json/],
    ];
    for (const [body, type, status, message] of cases) {
      const r = await call("POST", "/v1/actions", { token: t.apiKey, body, headers: { "Content-Type": type } });
      expect(r.status, body).toBe(status);
      expect(r.json.code, body).toBe(status);
      expect(r.json.message, body).toMatch(message);
    }
  });

  it("type checks follow the field tables (logins, purchases, social dynamics)", async () => {
    const t = await setupTenant("types");
    const r = await call("POST", "/v1/logins", {
      token: t.apiKey,
      body: { users: [{ user_id: "1", level: "10", country: "USA", language: "english!", register_date: "2018/11/14" }] },
    });
    expect(r.status).toBe(400);
    expect(r.json.data.errors.map((x: { field: string }) => x.field)).toEqual(["level", "country", "language", "register_date"]);
    const p = await call("POST", "/v1/purchases", { token: t.apiKey, body: { purchases: [{ user_id: "1", item_id: "2", count: 1 }] } });
    expect(p.json.data.errors).toEqual([{ index: 0, field: "price", reason: "is required" }]);
    const sd = await call("POST", "/v1/social-dynamics", {
      token: t.apiKey,
      body: { social_dynamics: [{ user_id: "1", target_user_id: "2", connection: "unlink", interaction: "friend" }] },
    });
    expect(sd.json.data.errors[0]).toMatchObject({ field: "connection", reason: expect.stringMatching(/"linked", "unlinked"/) });
  });

  it("an unknown route under /v1 is 404 in the envelope", async () => {
    const t = await setupTenant("404");
    const r = await call("POST", "/v1/records/unicorns", { token: t.apiKey, body: { records: [{}] } });
    expect(r.status).toBe(404);
    expect(r.json.message).toMatch(/members/);
  });
});

describe("tenant isolation", () => {
  it("each key writes only its own tenant, and deletion of a user never touches another tenant", async () => {
    const a = await setupTenant("iso-a");
    const b = await setupTenant("iso-b");
    expect((await call("POST", "/v1/actions", { token: a.apiKey, body: { actions: actions(3, "same-user") } })).status).toBe(201);
    expect((await call("POST", "/v1/actions", { token: b.apiKey, body: { actions: actions(5, "same-user") } })).status).toBe(201);
    expect(await countRows(a.tenant.id, "actions")).toBe(3);
    expect(await countRows(b.tenant.id, "actions")).toBe(5);
    const del = await call("POST", "/v1/user-data", { token: a.apiKey, body: { id: "same-user" } });
    expect(del.status).toBe(202);
    const done = await waitFor(async () => {
      const s = await call("GET", `/v1/user-data/${del.json.data.request_id}`, { token: a.apiKey });
      return s.json.data?.status === "done" ? s : undefined;
    }, "the deletion");
    expect(done.json.data.deleted_rows).toBe(3);
    expect(await countRows(a.tenant.id, "actions")).toBe(0);
    expect(await countRows(b.tenant.id, "actions")).toBe(5);
  });

  it("the same Idempotency-Key in two tenants is two different keys", async () => {
    const a = await setupTenant("iso-ka");
    const b = await setupTenant("iso-kb");
    const headers = { "Idempotency-Key": "shared-key-1" };
    const ra = await call("POST", "/v1/actions", { token: a.apiKey, headers, body: { actions: actions(2) } });
    const rb = await call("POST", "/v1/actions", { token: b.apiKey, headers, body: { actions: actions(4) } });
    expect([ra.status, rb.status]).toEqual([201, 201]);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(await countRows(b.tenant.id, "actions")).toBe(4);
  });
});
