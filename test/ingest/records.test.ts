import { describe, expect, it } from "vitest";
import { MODELS } from "../../src/models";
import { call, setupTenant } from "../helpers";
import { countRows } from "./util";

const SAMPLE: Record<string, unknown> = {
  string: "x",
  integer: 7,
  float: 1.5,
  boolean: true,
  timestamp: "2026-01-01 00:00:00",
  date: "2026-01-01",
  params: [{ key: "k", value: "v" }],
};

describe("POST /v1/records/:model", () => {
  it("accepts one full record of every loyalty model, under the model name or `records`", async () => {
    const t = await setupTenant("records");
    for (const [i, m] of MODELS.filter((x) => x.family === "loyalty" && !x.derived).entries()) {
      const item = Object.fromEntries(
        m.fields.map((f) => [
          f.name,
          f.values ? f.values[0] : f.format === "country" ? "DE" : f.format === "currency" ? "EUR" : SAMPLE[f.type],
        ]),
      );
      const key = i % 2 ? "records" : m.name;
      const r = await call("POST", `/v1/records/${m.name}`, { token: t.apiKey, body: { [key]: [item] } });
      expect(r.status, `${m.name}: ${r.text}`).toBe(201);
      expect(r.json).toEqual({ code: 201, message: `1 ${m.name.replace(/_/g, " ")} have been successfully ingested`, data: null });
      expect(await countRows(t.tenant.id, m.name), m.name).toBe(1);
    }
  });

  it("entity models upsert by key, event models append", async () => {
    const t = await setupTenant("records-upsert");
    const member = (tier: string) => ({ customer_id: "c1", tier, created_at: "2026-01-01 00:00:00" });
    for (const tier of ["silver", "gold"]) {
      expect((await call("POST", "/v1/records/members", { token: t.apiKey, body: { members: [member(tier)] } })).status).toBe(201);
    }
    expect(await countRows(t.tenant.id, "members")).toBe(1);
    expect(await countRows(t.tenant.id, "members", "tier = 'gold'")).toBe(1);
    const transfer = { transfer_id: "t1", customer_id: "c1", type: "earned", points: 10, created_at: "2026-01-01 00:00:00" };
    for (let i = 0; i < 2; i++) {
      expect((await call("POST", "/v1/records/point_transfers", { token: t.apiKey, body: { records: [transfer] } })).status).toBe(201);
    }
    expect(await countRows(t.tenant.id, "point_transfers")).toBe(2);
  });

  it("refuses both keys at once, an event model of the reference API, and bad enumerations", async () => {
    const t = await setupTenant("records-bad");
    const both = await call("POST", "/v1/records/stores", { token: t.apiKey, body: { stores: [], records: [] } });
    expect(both.status).toBe(400);
    const ev = await call("POST", "/v1/records/actions", { token: t.apiKey, body: { records: [{}] } });
    expect(ev.status).toBe(404);
    const bad = await call("POST", "/v1/records/point_transfers", {
      token: t.apiKey,
      body: { records: [{ transfer_id: "t", customer_id: "c", type: "gifted", points: 1, created_at: "2026-01-01 00:00:00" }] },
    });
    expect(bad.json.data.errors).toEqual([{ index: 0, field: "type", reason: 'must be one of "earned", "used", "expired", got "gifted"' }]);
  });
});
