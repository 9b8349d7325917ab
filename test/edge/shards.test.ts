import { afterEach, describe, expect, it, vi } from "vitest";
import { D1_MAX_BYTES, ROOM_STEP_BYTES, pickShard, shardDb } from "../../src/db/shards";
import { countTenantsPerShard } from "../../src/db/tenants";
import { createServices, fixedClock, type Shards } from "../../src/services";
import { verifyWebhookSignature } from "../../src/services/webhooks";
import { ALERT_EVERY_SECONDS, alertFullShards } from "../../src/tenants/shards";
import { ADMIN, call, setupTenant } from "../helpers";
import { e, servers, unique } from "../targets/helpers";

afterEach(() => vi.restoreAllMocks());

describe("GET /api/1/admin/tenants/:id", () => {
  it("answers the tenant with its shard and rate-limit tiers; an unknown id is a 404", async () => {
    const { tenant } = await setupTenant("one-tenant");
    const r = await call("GET", `/api/1/admin/tenants/${tenant.id}`, { headers: ADMIN });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      id: tenant.id,
      name: "one-tenant",
      shard: expect.any(Number),
      created_at: expect.any(Number),
      rate_limits: { ingest: "standard", api: "standard" },
      move: null,
    });
    const missing = await call("GET", "/api/1/admin/tenants/ten_missing", { headers: ADMIN });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
    expect((await call("GET", `/api/1/admin/tenants/${tenant.id}`)).status).toBe(401);
  });
});

describe("GET /api/1/admin/shards", () => {
  it("shows per shard its size, tenants and rows per table, matching the shard itself", async () => {
    const { tenant, apiKey } = await setupTenant("shard-stats");
    const users = Array.from({ length: 7 }, (_, i) => ({ user_id: `u-${i}` }));
    const ing = await call("POST", "/v1/logins", { token: apiKey, body: { users } });
    expect(ing.status).toBeLessThan(300);
    const { shard } = (await call("GET", `/api/1/admin/tenants/${tenant.id}`, { headers: ADMIN })).json;

    const r = await call("GET", "/api/1/admin/shards", { headers: ADMIN });
    expect(r.status).toBe(200);
    expect(r.json.limit_bytes).toBe(D1_MAX_BYTES);
    expect(r.json.alert_share).toBe(0.8);
    expect(r.json.shards.map((x: { shard: number }) => x.shard)).toEqual([0, 1]);
    const view = r.json.shards[shard];
    expect(view.binding).toBe(`DATA_${shard}`);
    expect(view.size_bytes).toBeGreaterThan(0);
    expect(view.share).toBeCloseTo(view.size_bytes / D1_MAX_BYTES, 12);
    expect(view.alert).toBe(false);

    const direct = await shardDb(e, shard).prepare("SELECT count(*) AS n FROM logins").first<{ n: number }>();
    expect(view.tables.logins).toBe(direct?.n);
    expect(view.tables.logins).toBeGreaterThanOrEqual(7);
    expect(view.tables).not.toHaveProperty("d1_migrations");
    expect(view.tables).not.toHaveProperty("_cf_METADATA");
    expect(view.rows).toBe(Object.values(view.tables as Record<string, number>).reduce((a, b) => a + b, 0));

    const counts = await countTenantsPerShard(createServices(e).db);
    for (const s of r.json.shards) expect(s.tenants).toBe(counts.find((c: { shard: number }) => c.shard === s.shard)?.c ?? 0);
  });
});

/** A shard router whose databases report the given sizes (null: not reported). */
function sized(sizes: (number | null)[]): Shards {
  const db = (i: number) =>
    ({ prepare: () => ({ run: async () => ({ meta: sizes[i] === null ? {} : { size_after: sizes[i] } }) }) }) as unknown as D1Database;
  return { count: () => sizes.length, db };
}

describe("placement: the shard with the most room", () => {
  it("the smaller database wins, whatever the tenant counts", async () => {
    const s = createServices(e);
    expect(await pickShard({ db: s.db, shards: sized([5e9, 1e9]) })).toBe(1);
    expect(await pickShard({ db: s.db, shards: sized([1e9, 5e9]) })).toBe(0);
  });

  it("sizes within one step (1% of 10 GB) tie, and the fewest tenants win; unknown sizes fall back to the count", async () => {
    const s = createServices(e);
    for (const name of ["p1", "p2"]) await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: { name } });
    // shards 0 and 1 hold tenants now (placement alternates while their sizes tie); a third
    // shard holds none: it wins any tie
    expect(await pickShard({ db: s.db, shards: sized([1000, 2000, ROOM_STEP_BYTES - 1]) })).toBe(2);
    expect(await pickShard({ db: s.db, shards: sized([null, null, null]) })).toBe(2);
    expect(await pickShard({ db: s.db, shards: sized([1000, 2000, ROOM_STEP_BYTES]) })).not.toBe(2);
  });
});

describe("capacity alert (cron)", () => {
  const SECRET = "whsec-operator-0123456789";
  const hooks = async (name: string): Promise<{ headers: Record<string, string>; body: string }[]> =>
    (await fetch(`${servers().control}/webhooks?name=${name}`)).json();

  it("a shard past SHARD_ALERT_SHARE posts one signed shard.capacity webhook a day", async () => {
    const name = unique("operator");
    const clock = fixedClock(Date.UTC(2030, 0, 1));
    // real shards are a few hundred KB: a share of 1e-6 (10 KB) puts both past it
    const env = { ...e, SHARD_ALERT_SHARE: "0.000001", OPERATOR_WEBHOOK_URL: `${servers().control}/webhooks/${name}`, OPERATOR_WEBHOOK_SECRET: SECRET };
    const s = createServices(env, { clock });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});

    expect(await alertFullShards(s)).toEqual([0, 1]);
    let got = await hooks(name);
    expect(got).toHaveLength(2);
    for (const h of got) {
      expect(h.headers["ferry-event"]).toBe("shard.capacity");
      // signed at the services' clock (2030), so checked against that clock's now
      expect(await verifyWebhookSignature(SECRET, h.headers["ferry-signature"] ?? null, h.body, clock.seconds())).toBe(true);
      expect(await verifyWebhookSignature(SECRET, h.headers["ferry-signature"] ?? null, h.body, clock.seconds() + 301)).toBe(false);
    }
    const body = JSON.parse(got[0]!.body);
    expect(body).toMatchObject({ type: "shard.capacity", tenant_id: null, data: { shard: 0, binding: "DATA_0", limit_bytes: D1_MAX_BYTES, alert_share: 0.000001 } });
    expect(body.data.size_bytes).toBeGreaterThan(10_000);
    expect(warn.mock.calls.some((c) => String(c[0]).includes('"shard.capacity"'))).toBe(true);

    // the next ticks of the same day send nothing
    clock.advance(60);
    expect(await alertFullShards(s)).toEqual([]);
    clock.advance(ALERT_EVERY_SECONDS - 120);
    expect(await alertFullShards(s)).toEqual([]);
    expect(await hooks(name)).toHaveLength(2);
    // a day after the last alert, again
    clock.advance(60);
    expect(await alertFullShards(s)).toEqual([0, 1]);
    got = await hooks(name);
    expect(got).toHaveLength(4);
  });

  it("below the share nothing is sent; a webhook that fails (here a 404) is retried on the next tick", async () => {
    const clock = fixedClock(Date.UTC(2031, 0, 1));
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const name = unique("operator-retry");
    const below = createServices({ ...e, OPERATOR_WEBHOOK_URL: `${servers().control}/webhooks/${name}`, OPERATOR_WEBHOOK_SECRET: SECRET }, { clock });
    expect(await alertFullShards(below)).toEqual([]);

    const broken = createServices({ ...e, SHARD_ALERT_SHARE: "0.000001", OPERATOR_WEBHOOK_URL: `${servers().control}/no-such-receiver`, OPERATOR_WEBHOOK_SECRET: SECRET }, { clock });
    expect(await alertFullShards(broken)).toEqual([]);
    clock.advance(60);
    const fixed = createServices({ ...e, SHARD_ALERT_SHARE: "0.000001", OPERATOR_WEBHOOK_URL: `${servers().control}/webhooks/${name}`, OPERATOR_WEBHOOK_SECRET: SECRET }, { clock });
    expect(await alertFullShards(fixed)).toEqual([0, 1]);
    expect(await hooks(name)).toHaveLength(2);
  });
});
