import { describe, expect, it } from "vitest";
import { shardDb } from "../../src/db/shards";
import { call, setupTenant } from "../helpers";
import { actions, countRows, e } from "./util";

const post = (apiKey: string, key: string, body: unknown, path = "/v1/actions") =>
  call("POST", path, { token: apiKey, headers: { "Idempotency-Key": key }, body });

async function shardOf(tenantId: string) {
  const r = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  return shardDb(e, r?.shard ?? -1);
}

describe("Idempotency-Key", () => {
  it("a replay with the same body gets the same response and writes nothing", async () => {
    const t = await setupTenant("idem");
    const body = { actions: actions(10) };
    const first = await post(t.apiKey, "k-1", body);
    expect(first.status).toBe(201);
    const again = await post(t.apiKey, "k-1", body);
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await countRows(t.tenant.id, "actions")).toBe(10);
  });

  it("the key with a different body is 422, on another endpoint too", async () => {
    const t = await setupTenant("idem-422");
    expect((await post(t.apiKey, "k-2", { actions: actions(1) })).status).toBe(201);
    const other = await post(t.apiKey, "k-2", { actions: actions(2) });
    expect(other.status).toBe(422);
    expect(other.json).toMatchObject({ code: 422, data: null });
    expect(other.json.message).toMatch(/different request/);
    const path = await post(t.apiKey, "k-2", { level_ups: [{ user_id: "1", level: 2 }] }, "/v1/level-ups");
    expect(path.status).toBe(422);
    expect(await countRows(t.tenant.id, "actions")).toBe(1);
    expect(await countRows(t.tenant.id, "level_ups")).toBe(0);
  });

  it("while the first request is in flight a duplicate is 409", async () => {
    const t = await setupTenant("idem-409");
    // The first request holds the key: its record is claimed and has no response yet.
    const body = JSON.stringify({ actions: actions(1) });
    const first = post(t.apiKey, "k-3", body);
    const second = post(t.apiKey, "k-3", body);
    const statuses = [(await first).status, (await second).status];
    // Two racing duplicates: exactly one writes; the other is 409 (still running) or a replay.
    expect(statuses).toContain(201);
    expect(await countRows(t.tenant.id, "actions")).toBe(1);

    const db = await shardOf(t.tenant.id);
    const now = Math.floor(Date.now() / 1000);
    await db
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at, expires_at) VALUES (?1, 'k-4', 'x', ?2, ?3)")
      .bind(t.tenant.id, now, now + 60)
      .run();
    const held = await post(t.apiKey, "k-4", { actions: actions(1) });
    // Different fingerprint wins over in-flight: the body of the running request differs.
    expect(held.status).toBe(422);
    const fp = await db.prepare("SELECT fingerprint FROM idempotency_keys WHERE tenant_id = ?1 AND key = 'k-3'").bind(t.tenant.id).first<{ fingerprint: string }>();
    await db
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at, expires_at) VALUES (?1, 'k-5', ?2, ?3, ?4)")
      .bind(t.tenant.id, fp?.fingerprint, now, now + 60)
      .run();
    const inFlight = await call("POST", "/v1/actions", { token: t.apiKey, headers: { "Idempotency-Key": "k-5" }, body });
    expect(inFlight.status).toBe(409);
    expect(inFlight.json).toMatchObject({ code: 409, data: null });
    expect(await countRows(t.tenant.id, "actions")).toBe(1);
  });

  it("the response is stored for 24 hours with the rows; an expired key is a new request", async () => {
    const t = await setupTenant("idem-ttl");
    const body = { actions: actions(1) };
    expect((await post(t.apiKey, "k-6", body)).status).toBe(201);
    const db = await shardOf(t.tenant.id);
    const rec = await db
      .prepare("SELECT status, response, expires_at - created_at AS ttl FROM idempotency_keys WHERE tenant_id = ?1 AND key = 'k-6'")
      .bind(t.tenant.id)
      .first<{ status: number; response: string; ttl: number }>();
    expect(rec).toMatchObject({ status: 201, ttl: 86400 });
    expect(JSON.parse(rec?.response ?? "{}").message).toBe("1 actions have been successfully ingested");
    await db.prepare("UPDATE idempotency_keys SET expires_at = 0 WHERE tenant_id = ?1 AND key = 'k-6'").bind(t.tenant.id).run();
    const later = await post(t.apiKey, "k-6", body);
    expect(later.status).toBe(201);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    expect(await countRows(t.tenant.id, "actions")).toBe(2);
  });

  it("a refused batch does not use up the key; a malformed key is 400", async () => {
    const t = await setupTenant("idem-400");
    const bad = await post(t.apiKey, "k-7", { actions: [{ user_id: "1" }] });
    expect(bad.status).toBe(400);
    const fixed = await post(t.apiKey, "k-7", { actions: actions(1) });
    expect(fixed.status).toBe(201);
    const longKey = await post(t.apiKey, "x".repeat(300), { actions: actions(1) });
    expect(longKey.status).toBe(400);
    expect(longKey.json.message).toMatch(/Idempotency-Key/);
  });

  it("applies to records and user-data POSTs too", async () => {
    const t = await setupTenant("idem-all");
    const member = { members: [{ customer_id: "c1", created_at: "2026-01-01 00:00:00" }] };
    const m1 = await post(t.apiKey, "m", member, "/v1/records/members");
    const m2 = await post(t.apiKey, "m", member, "/v1/records/members");
    expect([m1.status, m2.status]).toEqual([201, 201]);
    expect(m2.headers.get("idempotent-replayed")).toBe("true");
    const d1 = await post(t.apiKey, "d", { id: "c1" }, "/v1/user-data");
    const d2 = await post(t.apiKey, "d", { id: "c1" }, "/v1/user-data");
    expect(d1.status).toBe(202);
    expect(d2.text).toBe(d1.text);
    // One request recorded: the replay started no second deletion.
    const n = await e.DB.prepare("SELECT count(*) AS n FROM user_deletions WHERE tenant_id = ?1").bind(t.tenant.id).first<{ n: number }>();
    expect(n?.n).toBe(1);
    expect(d2.headers.get("idempotent-replayed")).toBe("true");
  });
});
