import { describe, expect, it } from "vitest";
import { call, setupTenant } from "../helpers";
import { countRows } from "../ingest/util";
import { exportAndRead, push } from "./helpers";

const T0 = "2026-01-01 00:00:00";

describe("export-module models: ingestion", () => {
  it("products: stored (currency upper-cased); a price that is not a number is refused, nothing written", async () => {
    const t = await setupTenant("m-products");
    const ok = await push(t.apiKey, "products", [{ product_id: "p1", name: "Trail shoe", category: "footwear", price: 59.9, currency: "eur", status: "active", created_at: T0 }]);
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.message).toBe("1 products have been successfully ingested");
    expect(await countRows(t.tenant.id, "products", "currency = 'EUR' AND price = 59.9")).toBe(1);
    const bad = await push(t.apiKey, "products", [
      { product_id: "p2", name: "Sock", created_at: T0 },
      { product_id: "p3", name: "Cap", price: "cheap", created_at: T0 },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe("1 error(s) in 2 item(s); nothing was ingested. First: item 1, field price: must be a number, got string.");
    expect(await countRows(t.tenant.id, "products")).toBe(1);
  });

  it("coupon pools: upsert by pool_id; an unknown code_type names the accepted values", async () => {
    const t = await setupTenant("m-pools");
    const pool = (available: number) => ({ pool_id: "pool1", name: "exact-code-no-exp", code_type: "exact", total_codes: 100, available_codes: available, created_at: T0 });
    expect((await push(t.apiKey, "coupon_pools", [pool(40)])).status).toBe(201);
    expect((await push(t.apiKey, "coupon_pools", [pool(39)])).status).toBe(201);
    expect(await countRows(t.tenant.id, "coupon_pools")).toBe(1);
    expect(await countRows(t.tenant.id, "coupon_pools", "available_codes = 39")).toBe(1);
    const bad = await push(t.apiKey, "coupon_pools", [{ ...pool(1), code_type: "random" }]);
    expect(bad.status).toBe(400);
    expect(bad.json.data.errors).toEqual([{ index: 0, field: "code_type", reason: 'must be one of "exact", "unique", "generated", got "random"' }]);
  });

  it("challenges: steps as a key/value list; a record without its member is refused", async () => {
    const t = await setupTenant("m-challenges");
    const ok = await push(t.apiKey, "challenges", [
      { challenge_id: "ch1", customer_id: "c1", challenge_name: "Summer", status: "in_progress", progress: 0.5, steps: [{ key: "s1", value: "done" }], created_at: T0 },
    ]);
    expect(ok.status, ok.text).toBe(201);
    expect(await countRows(t.tenant.id, "challenges", `steps = '{"s1":"done"}'`)).toBe(1);
    const bad = await push(t.apiKey, "challenges", [{ challenge_id: "ch2", created_at: T0 }]);
    expect(bad.status).toBe(400);
    expect(bad.json.data.errors).toEqual([{ index: 0, field: "customer_id", reason: "is required" }]);
  });

  it("content approval: a submission time that is not a timestamp is refused with the expected form", async () => {
    const t = await setupTenant("m-content");
    const item = { content_id: "r1", customer_id: "c1", content_type: "review", content: "Great shoes", status: "pending", submitted_at: "2026-01-02 10:00:00" };
    expect((await push(t.apiKey, "content_approvals", [item])).status).toBe(201);
    const bad = await push(t.apiKey, "content_approvals", [{ ...item, content_id: "r2", submitted_at: "yesterday" }]);
    expect(bad.status).toBe(400);
    expect(bad.json.data.errors[0]).toEqual({ index: 0, field: "submitted_at", reason: 'must be a timestamp YYYY-MM-DD HH:MM:SS in UTC (e.g. "2019-01-01 15:04:05"), got "yesterday"' });
    expect(await countRows(t.tenant.id, "content_approvals")).toBe(1);
  });

  it("changes and webhook logs are written by ferry: POSTing them is a 404 that says which models take records", async () => {
    const t = await setupTenant("m-derived");
    for (const model of ["changes", "webhook_logs"]) {
      const r = await push(t.apiKey, model, [{}]);
      expect(r.status).toBe(404);
      expect(r.text).toContain(`No record model '${model}'`);
      expect(r.text).toContain("products");
    }
  });
});

describe("export-module models: exports", () => {
  it("products, coupon pools and content approval export with filters and renamed fields", async () => {
    const t = await setupTenant("m-export");
    await push(t.apiKey, "products", [
      { product_id: "p1", name: "Trail shoe", price: 59.9, currency: "EUR", status: "active", created_at: T0, updated_at: "2026-01-02 00:00:00" },
      { product_id: "p2", name: "Old cap", price: 5, status: "inactive", created_at: T0, updated_at: "2026-01-03 00:00:00" },
    ]);
    await push(t.apiKey, "coupon_pools", [{ pool_id: "pool1", name: "welcome", code_type: "unique", total_codes: 10, available_codes: 3, created_at: T0, updated_at: T0 }]);
    await push(t.apiKey, "content_approvals", [
      { content_id: "r1", customer_id: "c1", content_type: "review", status: "approved", submitted_at: "2026-01-02 10:00:00" },
      { content_id: "r2", customer_id: "c2", content_type: "photo", status: "rejected", reason: "blurry", submitted_at: "2026-01-02 11:00:00" },
    ]);
    const products = await exportAndRead(t.token, {
      name: "active-products",
      model: "products",
      fields: [{ from: "product_id", to: "sku" }, { from: "name" }, { from: "price" }],
      filters: [[{ field: "status", op: "eq", value: "active" }]],
    });
    expect(products).toBe("sku,name,price\np1,Trail shoe,59.9\n");
    const pools = await exportAndRead(t.token, { name: "pools", model: "coupon_pools", fields: [{ from: "name" }, { from: "available_codes" }] });
    expect(pools).toBe("name,available_codes\nwelcome,3\n");
    const rejected = await exportAndRead(t.token, {
      name: "rejected",
      model: "content_approvals",
      fields: [{ from: "content_id" }, { from: "reason" }],
      filters: [[{ field: "status", op: "eq", value: "rejected" }]],
    });
    expect(rejected).toBe("content_id,reason\nr2,blurry\n");
  });

  it("challenges export as JSON only: csv, ndjson and parquet are a 400 that names the reason; json is written", async () => {
    const t = await setupTenant("m-challenge-export");
    const body = { name: "challenges", model: "challenges", all_fields: true, schedule: { type: "manual" } };
    for (const type of ["csv", "ndjson", "parquet"]) {
      const r = await call("POST", "/api/1/exports", { token: t.token, body: { ...body, format: { type } } });
      expect(r.status, type).toBe(400);
      expect(r.json.error.message).toBe(
        `Invalid export definition: format.type: Challenges can only be exported as json (its records hold nested data); '${type}' is not available for this model`,
      );
    }
    const model = await call("GET", "/api/1/models/challenges", { token: t.token });
    expect(model.json.formats).toEqual(["json"]);
    await push(t.apiKey, "challenges", [
      { challenge_id: "ch1", customer_id: "c1", status: "completed", progress: 1, steps: [{ key: "s1", value: "done" }], created_at: T0, completed_at: "2026-01-05 00:00:00" },
    ]);
    const text = await exportAndRead(t.token, {
      name: "challenges",
      model: "challenges",
      format: { type: "json" },
      fields: [{ from: "challenge_id" }, { from: "customer_id" }, { from: "status" }, { from: "steps.s1", to: "step_1" }],
    });
    expect(JSON.parse(text)).toEqual({ challenges: [{ challenge_id: "ch1", customer_id: "c1", status: "completed", step_1: "done" }] });
  });

  it("changes: updating a member by ingestion logs each changed field, which exports like any model", async () => {
    const t = await setupTenant("m-changes");
    const member = { customer_id: "c1", email: "a@example.com", tier: "silver", points_balance: 10, created_at: T0 };
    expect((await push(t.apiKey, "members", [member])).status).toBe(201);
    expect(await countRows(t.tenant.id, "changes")).toBe(0);
    // the same values again: nothing changed (updated_at moves on every update and is not compared)
    expect((await push(t.apiKey, "members", [member])).status).toBe(201);
    expect(await countRows(t.tenant.id, "changes")).toBe(0);
    expect((await push(t.apiKey, "members", [{ ...member, tier: "gold", points_balance: 25, email: null }, { customer_id: "c2", created_at: T0 }])).status).toBe(201);
    const csv = await exportAndRead(t.token, {
      name: "changes",
      model: "changes",
      fields: [{ from: "customer_id" }, { from: "field_name" }, { from: "old_value" }, { from: "new_value" }, { from: "source" }],
    });
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("customer_id,field_name,old_value,new_value,source");
    expect(lines.slice(1).sort()).toEqual(["c1,email,a@example.com,,ingestion", "c1,points_balance,10,25,ingestion", "c1,tier,silver,gold,ingestion"]);
  });
});
