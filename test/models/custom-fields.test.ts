import { describe, expect, it } from "vitest";
import { call, setupTenant } from "../helpers";
import { countRows } from "../ingest/util";
import { exportAndRead, push } from "./helpers";

const T0 = "2026-01-01 00:00:00";
const FIELDS = [
  { name: "shoe_size", type: "integer", description: "EU size" },
  { name: "vip", type: "boolean" },
  { name: "birthday", type: "date" },
  { name: "favourite_store", type: "string" },
];

async function define(token: string, fields: unknown[] = FIELDS) {
  return call("PUT", "/api/1/models/members/custom-fields", { token, body: { fields } });
}

describe("custom member fields", () => {
  it("are defined with PUT, listed with GET and shown in the model's field list", async () => {
    const t = await setupTenant("cf-define");
    expect((await call("GET", "/api/1/models/members/custom-fields", { token: t.token })).json).toEqual({ model: "members", fields: [] });
    const put = await define(t.token);
    expect(put.status, put.text).toBe(200);
    expect(put.json.fields[0]).toEqual({ name: "shoe_size", type: "integer", description: "EU size" });
    const got = await call("GET", "/api/1/models/members/custom-fields", { token: t.token });
    expect(got.json.fields.map((f: { name: string }) => f.name)).toEqual(["shoe_size", "vip", "birthday", "favourite_store"]);
    const model = await call("GET", "/api/1/models/members", { token: t.token });
    expect(model.json.custom_fields).toBe(true);
    expect(model.json.fields.find((f: { name: string }) => f.name === "shoe_size")).toMatchObject({ type: "integer", custom: true, operators: expect.arrayContaining(["gte"]) });
    expect(model.json.fields.find((f: { name: string }) => f.name === "email")).toMatchObject({ custom: false });
  });

  it("refuses a built-in or malformed name, an unknown type, a repeat, a model without custom fields, and a client without exports-manage", async () => {
    const t = await setupTenant("cf-refuse");
    const cases: [unknown[], string][] = [
      [[{ name: "email", type: "string" }], "Invalid custom fields: fields.0.name: 'email' is a built-in field of members; choose another name"],
      [[{ name: "Shoe Size", type: "string" }], "Invalid custom fields: fields.0.name: 'Shoe Size' is not a field name: use 1 to 63 lower-case letters, digits and _, starting with a letter"],
      [[{ name: "size", type: "params" }], "Invalid custom fields: fields.0.type: 'params' is not a custom field type; use one of string, integer, float, boolean, timestamp, date"],
      [[{ name: "size", type: "integer" }, { name: "size", type: "string" }], "Invalid custom fields: fields.1.name: 'size' is listed twice"],
      [[{ name: "custom_fields", type: "string" }], "Invalid custom fields: fields.0.name: 'custom_fields' is reserved; choose another name"],
    ];
    for (const [fields, message] of cases) {
      const r = await define(t.token, fields);
      expect(r.status).toBe(400);
      expect(r.json.error.message).toBe(message);
    }
    const other = await call("PUT", "/api/1/models/products/custom-fields", { token: t.token, body: { fields: [{ name: "x", type: "string" }] } });
    expect(other.status).toBe(400);
    expect(other.json.error.message).toBe("Model 'products' takes no custom fields; these do: members");
    expect((await call("PUT", "/api/1/models/nope/custom-fields", { token: t.token, body: { fields: [] } })).status).toBe(404);
    const viewer = await setupTenant("cf-viewer", ["automated-exports-view"]);
    expect((await define(viewer.token)).status).toBe(403);
  });

  it("members carry them on ingestion, validated by type; an undefined one is refused naming the fields", async () => {
    const t = await setupTenant("cf-ingest");
    await define(t.token);
    const ok = await push(t.apiKey, "members", [{ customer_id: "c1", created_at: T0, shoe_size: 42, vip: true, birthday: "1990-05-01" }]);
    expect(ok.status, ok.text).toBe(201);
    expect(await countRows(t.tenant.id, "members", `custom_fields = '{"shoe_size":42,"vip":1,"birthday":"1990-05-01"}'`)).toBe(1);
    const bad = await push(t.apiKey, "members", [{ customer_id: "c2", created_at: T0, shoe_size: "big" }]);
    expect(bad.status).toBe(400);
    expect(bad.json.data.errors).toEqual([{ index: 0, field: "shoe_size", reason: "must be a whole number, got string" }]);
    const unknown = await push(t.apiKey, "members", [{ customer_id: "c3", created_at: T0, hat_size: 3 }]);
    expect(unknown.status).toBe(400);
    expect(unknown.json.data.errors[0].field).toBe("hat_size");
    expect(unknown.json.data.errors[0].reason).toMatch(/^unknown field; members has: customer_id, .*updated_at, shoe_size, vip, birthday, favourite_store$/);
  });

  it("are filtered on and exported like built-in fields (all_fields included), and their changes are logged", async () => {
    const t = await setupTenant("cf-export");
    await define(t.token);
    await push(t.apiKey, "members", [
      { customer_id: "c1", created_at: T0, updated_at: "2026-01-02 00:00:00", shoe_size: 42, vip: true },
      { customer_id: "c2", created_at: T0, updated_at: "2026-01-03 00:00:00", shoe_size: 38 },
      { customer_id: "c3", created_at: T0, updated_at: "2026-01-04 00:00:00" },
    ]);
    const big = await exportAndRead(t.token, {
      name: "big-feet",
      model: "members",
      fields: [{ from: "customer_id" }, { from: "shoe_size", to: "size" }, { from: "vip", default: 0 }],
      filters: [[{ field: "shoe_size", op: "gte", value: 40 }]],
    });
    expect(big).toBe("customer_id,size,vip\nc1,42,1\n");
    const empty = await exportAndRead(t.token, {
      name: "no-size",
      model: "members",
      fields: [{ from: "customer_id" }],
      filters: [[{ field: "shoe_size", op: "is_empty" }]],
    });
    expect(empty).toBe("customer_id\nc3\n");
    const all = await exportAndRead(t.token, { name: "all-members", model: "members", all_fields: true, filters: [[{ field: "customer_id", op: "eq", value: "c1" }]] });
    const [header, row] = all.trim().split("\n");
    expect(header).toBe(
      "customer_id,email,first_name,last_name,status,tier,points_balance,country,store_code,opted_in_at,created_at,updated_at,shoe_size,vip,birthday,favourite_store",
    );
    expect(row).toBe("c1,,,,,,,,,,2026-01-01 00:00:00,2026-01-02 00:00:00,42,1,,");
    // a wrong operator for the type is refused like on a built-in field
    const bad = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "bad", model: "members", fields: [{ from: "customer_id" }], filters: [[{ field: "vip", op: "gt", value: 1 }]] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/operator 'gt' is not valid for boolean field 'vip'/);

    await push(t.apiKey, "members", [{ customer_id: "c1", created_at: T0, shoe_size: 43, vip: true }]);
    const changes = await exportAndRead(t.token, {
      name: "changes",
      model: "changes",
      fields: [{ from: "customer_id" }, { from: "field_name" }, { from: "old_value" }, { from: "new_value" }],
    });
    expect(changes).toBe("customer_id,field_name,old_value,new_value\nc1,shoe_size,42,43\n");
  });

  it("are the tenant's own: another tenant does not see them, cannot ingest them, and cannot export them", async () => {
    const a = await setupTenant("cf-a");
    const b = await setupTenant("cf-b");
    await define(a.token);
    expect((await call("GET", "/api/1/models/members/custom-fields", { token: b.token })).json.fields).toEqual([]);
    const bModel = await call("GET", "/api/1/models/members", { token: b.token });
    expect(bModel.json.fields.some((f: { name: string }) => f.name === "shoe_size")).toBe(false);
    const ingest = await push(b.apiKey, "members", [{ customer_id: "c1", created_at: T0, shoe_size: 42 }]);
    expect(ingest.status).toBe(400);
    expect(ingest.json.data.errors[0]).toMatchObject({ field: "shoe_size" });
    const exp = await call("POST", "/api/1/exports", { token: b.token, body: { name: "x", model: "members", fields: [{ from: "shoe_size" }], schedule: { type: "manual" } } });
    expect(exp.status).toBe(400);
    expect(exp.json.error.message).toMatch(/^Invalid export definition: fields.0.from: unknown field 'shoe_size' in model 'members'/);
    // B's own definition with the same name is independent of A's
    await define(b.token, [{ name: "shoe_size", type: "string" }]);
    expect((await call("GET", "/api/1/models/members/custom-fields", { token: a.token })).json.fields[0]).toMatchObject({ type: "integer" });
  });
});
