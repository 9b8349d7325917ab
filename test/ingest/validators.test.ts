import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { MODELS, getModel } from "../../src/models";
import type { ModelDef } from "../../src/models";
import { MAX_STATEMENT_JSON_BYTES, MAX_STRING, chunkRows, insertRows, validateItems } from "../../src/ingest/batch";
import { shardDb } from "../../src/db/shards";
import { createServices } from "../../src/services";
import { createTenant } from "../helpers";

const e = env as unknown as Env;
const model = (name: string) => getModel(name) as ModelDef;
const tenantShard = async (id: string) =>
  (await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(id).first<{ shard: number }>())?.shard ?? -1;

const action = (i: number) => ({
  timestamp: "2019-01-01 15:04:05",
  user_id: `u${i}`,
  action_id: "2002",
  action_name: "buy_item",
  action_params: [{ key: "item_id", value: String(3000 + i) }],
});

describe("validateItems", () => {
  it("turns reference items into rows in field order, params as an object", () => {
    const r = validateItems(model("actions"), [action(1)]);
    expect(r).toEqual({
      ok: true,
      rows: [["2019-01-01 15:04:05", "u1", "2002", "buy_item", { item_id: "3001" }]],
    });
  });

  it("fills an omitted timestamp with the time of ingestion", () => {
    const { timestamp: _, ...noTime } = action(1);
    const r = validateItems(model("actions"), [noTime], { now: new Date("2026-11-25T10:11:12Z") });
    expect(r.ok && r.rows[0]?.[0]).toBe("2026-11-25 10:11:12");
  });

  it("names index, field and reason for every bad item", () => {
    const r = validateItems(model("logins"), [
      { user_id: "1", timestamp: "2019-01-01 15:04:05" },
      { user_id: 1001 },
      { user_id: "2", country: "XX", language: "en_US", level: 1.5, register_date: "2019-02-30" },
      { user_id: "3", timestamp: "2019-01-01T15:04:05Z", colour: "red" },
      "not an object",
    ]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const by = (i: number) => r.errors.filter((x) => x.index === i).map((x) => x.field).sort();
    expect(by(0)).toEqual([]);
    expect(by(1)).toEqual(["user_id"]);
    expect(r.errors.find((x) => x.index === 1)?.reason).toMatch(/must be a string.*"1001"/);
    expect(by(2)).toEqual(["country", "language", "level", "register_date"]);
    expect(by(3)).toEqual(["colour", "timestamp"]);
    expect(r.errors.find((x) => x.field === "colour")?.reason).toMatch(/unknown field/);
    expect(by(4)).toEqual(["(item)"]);
    expect(r.total).toBe(r.errors.length);
  });

  it("checks required fields, enumerations and nested params", () => {
    const sd = model("social_dynamics");
    const base = { timestamp: "2019-01-01 15:04:05", user_id: "1001", target_user_id: "1002", connection: "linked", interaction: "friend" };
    expect(validateItems(sd, [base]).ok).toBe(true);
    const bad = validateItems(sd, [
      { ...base, connection: "friends" },
      { ...base, interaction: "" },
      { ...base, interaction_params: [{ key: "a", value: "1" }, { key: "a", value: "2" }] },
      { ...base, interaction_params: [{ key: "a" }] },
    ]);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors.map((x) => [x.index, x.field])).toEqual([
      [0, "connection"],
      [1, "interaction"],
      [2, "interaction_params[1].key"],
      [3, "interaction_params[0].value"],
    ]);
  });

  it("social_dynamics.connection is required as in the reference; its spelling unllinked is stored as unlinked", () => {
    const sd = model("social_dynamics");
    const base = { timestamp: "2019-01-01 15:04:05", user_id: "1001", target_user_id: "1002", interaction: "friend" };
    const none = validateItems(sd, [base]);
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.errors).toEqual([{ index: 0, field: "connection", reason: "is required" }]);
    const typo = validateItems(sd, [{ ...base, connection: "unllinked" }, { ...base, connection: "unlinked" }]);
    expect(typo.ok).toBe(true);
    if (!typo.ok) return;
    const at = sd.fields.findIndex((f) => f.name === "connection");
    expect(typo.rows.map((r) => r[at])).toEqual(["unlinked", "unlinked"]);
    // from CSV text too
    const text = validateItems(sd, [{ ...base, connection: "unllinked" }], { source: "text" });
    expect(text.ok && text.rows[0]?.[at]).toBe("unlinked");
  });

  it("the string limit counts characters (code points), not UTF-16 units", () => {
    const m = model("actions");
    const item = (name: string) => ({ timestamp: "2019-01-01 15:04:05", user_id: "u", action_id: "a", action_name: name });
    // 4096 emoji are 8192 UTF-16 units but 4096 characters: accepted
    expect(validateItems(m, [item("😀".repeat(MAX_STRING))]).ok).toBe(true);
    expect(validateItems(m, [item("a".repeat(MAX_STRING))]).ok).toBe(true);
    const over = validateItems(m, [item("😀".repeat(MAX_STRING + 1)), item("a".repeat(MAX_STRING + 1)), item(`${"a".repeat(MAX_STRING - 1)}😀`)]);
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.errors.map((x) => [x.index, x.field, x.reason])).toEqual([
      [0, "action_name", `is longer than ${MAX_STRING} characters`],
      [1, "action_name", `is longer than ${MAX_STRING} characters`],
    ]);
    // params values and keys too
    const params = validateItems(m, [{ ...item("x"), action_params: [{ key: "é".repeat(256), value: "😀".repeat(MAX_STRING) }] }]);
    expect(params.ok).toBe(true);
  });

  it("text source parses numbers, booleans and empty cells (CSV)", () => {
    const r = validateItems(
      model("participations"),
      [{ user_id: "u", stackinstanceid: "s", value: "12", has_won: "TRUE", has_completed: "", participation_date: "2026-01-01 00:00:00" }],
      { source: "text" },
    );
    expect(r).toEqual({ ok: true, rows: [["u", "s", null, 12, 1, null, "2026-01-01 00:00:00"]] });
    const bad = validateItems(model("purchases"), [{ user_id: "u", item_id: "i", count: "1.5", price: "abc" }], { source: "text" });
    expect(bad.ok ? [] : bad.errors.map((x) => x.field)).toEqual(["count", "price"]);
  });

  it("every model of the catalog has a validator that accepts its required fields", () => {
    const sample: Record<string, unknown> = {
      string: "x",
      integer: 1,
      float: 1.5,
      boolean: true,
      timestamp: "2026-01-01 00:00:00",
      date: "2026-01-01",
      params: [],
    };
    for (const m of MODELS) {
      const item = Object.fromEntries(
        m.fields.filter((f) => f.required).map((f) => [f.name, f.values ? f.values[0] : sample[f.type]]),
      );
      const r = validateItems(m, [item]);
      expect(r.ok, `${m.name}: ${JSON.stringify(r)}`).toBe(true);
      expect(validateItems(m, [{}]).ok, m.name).toBe(m.fields.every((f) => !f.required));
    }
  });
});

describe("insertRows", () => {
  it("writes 1000 rows on the tenant's shard only, in a few statements under the D1 limit", async () => {
    const t = await createTenant("ins");
    const shard = await tenantShard(t.id);
    const items = Array.from({ length: 1000 }, (_, i) => action(i));
    const v = validateItems(model("actions"), items);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    for (const chunk of chunkRows(v.rows)) expect(new TextEncoder().encode(chunk).length).toBeLessThanOrEqual(MAX_STATEMENT_JSON_BYTES);
    const res = await insertRows(createServices(e), t.id, model("actions"), v.rows);
    expect(res.rows).toBe(1000);
    expect(res.statements).toBeLessThanOrEqual(3);
    const count = async (s: number) =>
      (await shardDb(e, s).prepare("SELECT count(*) AS n FROM actions WHERE tenant_id = ?1").bind(t.id).first<{ n: number }>())?.n;
    expect(await count(shard)).toBe(1000);
    expect(await count(1 - shard)).toBe(0);
    const row = await shardDb(e, shard)
      .prepare("SELECT * FROM actions WHERE tenant_id = ?1 AND user_id = 'u7'")
      .bind(t.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({ action_id: "2002", action_params: '{"item_id":"3007"}', timestamp: "2019-01-01 15:04:05" });
  });

  it("is all or nothing: a failing extra statement leaves no rows", async () => {
    const t = await createTenant("atomic");
    const shard = await tenantShard(t.id);
    const v = validateItems(model("actions"), Array.from({ length: 1000 }, (_, i) => action(i)));
    if (!v.ok) throw new Error("invalid");
    await expect(
      insertRows(createServices(e), { tenantId: t.id, shard }, model("actions"), v.rows, (db) => [db.prepare("INSERT INTO no_such_table VALUES (1)")]),
    ).rejects.toThrow();
    const n = await shardDb(e, shard).prepare("SELECT count(*) AS n FROM actions WHERE tenant_id = ?1").bind(t.id).first<{ n: number }>();
    expect(n?.n).toBe(0);
  });

  it("entity models upsert by key, including duplicates inside one batch", async () => {
    const t = await createTenant("upsert");
    const shard = await tenantShard(t.id);
    const items = model("items");
    const write = async (list: unknown[]) => {
      const v = validateItems(items, list);
      if (!v.ok) throw new Error(JSON.stringify(v.errors));
      await insertRows(createServices(e), t.id, items, v.rows);
    };
    await write([
      { item_id: "1", price: 1, currency: "USD", name: "Axe", type: "weapon" },
      { item_id: "2", price: 2, currency: "USD", name: "Bow" },
      { item_id: "1", price: 3, currency: "USD", name: "Axe+", type: "weapon" },
    ]);
    await write([{ item_id: "2", price: 5, currency: "gold", name: "Bow" }]);
    const { results } = await shardDb(e, shard)
      .prepare("SELECT item_id, price, currency, name FROM items WHERE tenant_id = ?1 ORDER BY item_id")
      .bind(t.id)
      .all();
    expect(results).toEqual([
      { item_id: "1", price: 3, currency: "USD", name: "Axe+" },
      { item_id: "2", price: 5, currency: "gold", name: "Bow" },
    ]);
  });
});
