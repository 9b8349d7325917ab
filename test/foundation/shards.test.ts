import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { MODELS } from "../../src/models";
import { modelDdl, storedColumns } from "../../src/models/ddl";
import { shardDb, tenantData } from "../../src/db/shards";
import { ADMIN, call, createTenant } from "../helpers";

const e = env as unknown as Env;

describe("shard router", () => {
  it("spreads tenants over the shards and records the assignment", async () => {
    const a = await createTenant("a");
    const b = await createTenant("b");
    const list = await call("GET", "/api/1/admin/tenants", { headers: ADMIN });
    const shards = Object.fromEntries(list.json.tenants.map((t: { id: string; shard: number }) => [t.id, t.shard]));
    expect(new Set([shards[a.id], shards[b.id]])).toEqual(new Set([0, 1]));
  });

  it("two tenants on different shards never see each other's rows", async () => {
    const a = await createTenant("a");
    const b = await createTenant("b");
    const rows = await e.DB.prepare("SELECT id, shard FROM tenants").all<{ id: string; shard: number }>();
    const shardOf = (id: string) => rows.results.find((r) => r.id === id)?.shard ?? -1;
    expect(shardOf(a.id)).not.toBe(shardOf(b.id));
    const da = tenantData(e, { tenantId: a.id, shard: shardOf(a.id) });
    const db = tenantData(e, { tenantId: b.id, shard: shardOf(b.id) });
    const insert = (d: typeof da, user: string) =>
      d.db
        .prepare("INSERT INTO logins (tenant_id, ingested_at, timestamp, user_id) VALUES (?1, 0, '2026-01-01 00:00:00', ?2)")
        .bind(d.tenantId, user)
        .run();
    await insert(da, "alice");
    await insert(db, "bob");
    const read = (d: typeof da) =>
      d.db.prepare("SELECT user_id FROM logins WHERE tenant_id = ?1").bind(d.tenantId).all<{ user_id: string }>();
    expect((await read(da)).results.map((r) => r.user_id)).toEqual(["alice"]);
    expect((await read(db)).results.map((r) => r.user_id)).toEqual(["bob"]);
    // The rows really live on different databases.
    const onShard = async (n: number) =>
      (await shardDb(e, n).prepare("SELECT user_id FROM logins").all<{ user_id: string }>()).results.map((r) => r.user_id);
    expect([...(await onShard(0)), ...(await onShard(1))].sort()).toEqual(["alice", "bob"]);
    expect(await onShard(shardOf(a.id))).toEqual(["alice"]);
  });

  it("a missing shard binding is a clear error", () => {
    expect(() => shardDb(e, 7)).toThrow(/DATA_7/);
  });
});

describe("model catalog", () => {
  it("every model of DESIGN.md is in the catalog", () => {
    const names = MODELS.map((m) => m.name);
    for (const n of [
      "actions", "logins", "purchases", "virtual_purchases", "level_ups", "items", "social_dynamics", "kpis",
      "survey_responses", "members", "transactions", "point_transfers", "rewards", "reward_redemptions", "tiers",
      "achievements", "achievement_usages", "campaigns", "campaign_executions", "custom_events", "stores", "coupons",
      "games", "participations", "prizes", "prize_awards", "user_connections",
    ]) {
      expect(names).toContain(n);
    }
  });

  it("each shard's tables match the catalog (migrations are generated from it)", async () => {
    for (const shard of [0, 1]) {
      for (const model of MODELS) {
        const cols = await shardDb(e, shard).prepare(`PRAGMA table_info(${model.name})`).all<{ name: string }>();
        expect(cols.results.map((c) => c.name), model.name).toEqual(storedColumns(model));
        const idx = await shardDb(e, shard).prepare(`PRAGMA index_list(${model.name})`).all<{ name: string }>();
        const expected = modelDdl(model)
          .filter((s) => s.includes("INDEX"))
          .map((s) => /INDEX (\S+)/.exec(s)?.[1]);
        expect(idx.results.map((i) => i.name).sort(), model.name).toEqual(expected.sort());
      }
    }
  });

  it("GET /api/1/models/:name lists fields with type, required, enum values and description", async () => {
    const t = await createTenant();
    const c = await call("POST", `/api/1/admin/tenants/${t.id}/clients`, {
      headers: ADMIN,
      body: { name: "c", permissions: ["automated-exports-view"] },
    });
    const tok = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: c.json.client_id, client_secret: c.json.client_secret },
    });
    const token = tok.json.access_token;
    const list = await call("GET", "/api/1/models", { token });
    expect(list.json.models.length).toBe(MODELS.length);
    const sd = await call("GET", "/api/1/models/social_dynamics", { token });
    expect(sd.status).toBe(200);
    const conn = sd.json.fields.find((f: { name: string }) => f.name === "connection");
    expect(conn).toMatchObject({ type: "string", values: ["linked", "unlinked"] });
    expect(sd.json.fields.find((f: { name: string }) => f.name === "user_id")).toMatchObject({ required: true });
    expect((await call("GET", "/api/1/models")).status).toBe(401);
  });
});
