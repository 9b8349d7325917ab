import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import wranglerToml from "../../wrangler.toml?raw";
import type { Env } from "../../src/env";
import { createServices, fixedClock } from "../../src/services";
import { LOCKOUT, clientLockState, recordFailedClientAuth } from "../../src/tenants/lockout";
import { TIER_LIMITS, TOKEN_LIMITS } from "../../src/tenants/rate-limits";
import { ADMIN, call, createApiKey, createClient, createTenant, setupTenant } from "../helpers";

const e = env as unknown as Env;

/**
 * The binding counts in windows aligned to the wall clock (miniflare: floor(now / period)),
 * so a burst may straddle a window's end. Sending up to 2 * limit + 1 calls always meets a
 * refusal, and at least `limit` calls pass before the first one.
 */
async function untilRefused(limit: number, send: () => Promise<{ status: number; headers: Headers; json: any }>) {
  let passed = 0;
  for (let i = 0; i < 2 * limit + 1; i++) {
    const r = await send();
    if (r.status === 429) return { passed, refused: r };
    expect(r.status).toBeLessThan(300);
    passed++;
  }
  throw new Error(`no 429 after ${2 * limit + 1} calls`);
}

const setTiers = (tenantId: string, rate_limits: Record<string, string>) =>
  call("PATCH", `/api/1/admin/tenants/${tenantId}`, { headers: ADMIN, body: { rate_limits } });

afterEach(() => vi.restoreAllMocks());

describe("rate-limit bindings", () => {
  it("wrangler.toml and src/tenants/rate-limits.ts state the same limits", () => {
    const declared = new Map<string, { limit: number; period: number }>();
    const re = /\[\[ratelimits\]\]\s*name\s*=\s*"([^"]+)"\s*namespace_id\s*=\s*"(\d+)"\s*simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/g;
    for (const m of wranglerToml.matchAll(re)) declared.set(m[1]!, { limit: Number(m[3]), period: Number(m[4]) });
    const inCode = [...Object.values(TIER_LIMITS.ingest), ...Object.values(TIER_LIMITS.api), ...Object.values(TOKEN_LIMITS)];
    expect(declared.size).toBe(inCode.length);
    for (const l of inCode) expect(declared.get(l.binding), l.binding).toEqual({ limit: l.limit, period: l.period });
  });

  it("the binding runs inside the vitest pool", async () => {
    const key = `probe-${crypto.randomUUID()}`;
    expect(await e.RL_TOKEN_CLIENT.limit({ key })).toEqual({ success: true });
  });
});

describe("per-tenant tiers through the admin API", () => {
  it("PATCH sets the tiers, a left-out scope goes back to standard; bad input is a 400, an unknown tenant a 404", async () => {
    const { tenant } = await setupTenant("tiers");
    let r = await setTiers(tenant.id, { ingest: "high", api: "low" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: tenant.id, name: "tiers", rate_limits: { ingest: "high", api: "low" } });
    r = await setTiers(tenant.id, { api: "unlimited" });
    expect(r.json.rate_limits).toEqual({ ingest: "standard", api: "unlimited" });
    expect((await setTiers(tenant.id, { ingest: "huge" })).status).toBe(400);
    expect((await call("PATCH", `/api/1/admin/tenants/${tenant.id}`, { headers: ADMIN, body: { rate_limits: {}, name: "x" } })).status).toBe(400);
    expect((await setTiers("ten_nope", { ingest: "low" })).status).toBe(404);
    const list = await call("GET", "/api/1/admin/rate-limits", { headers: ADMIN });
    expect(list.json.tiers.ingest.low).toEqual({ binding: "RL_INGEST_LOW", limit: 60, period: 60 });
    expect(list.json.tiers.api.unlimited).toBeNull();
  });
});

describe("/v1: per API key", () => {
  it("past the tier's limit: 429 in the { code, message, data } envelope with Retry-After and RateLimit fields; another key of the tenant is not affected", async () => {
    const { tenant, apiKey } = await setupTenant("v1-limit");
    await setTiers(tenant.id, { ingest: "low" });
    const low = TIER_LIMITS.ingest.low;
    const ok = await call("GET", "/v1/me", { token: apiKey });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-policy")).toBe(`"ingest-low";q=${low.limit};w=${low.period}`);
    expect(ok.headers.get("ratelimit")).toBeNull();

    const { passed, refused } = await untilRefused(low.limit, () => call("GET", "/v1/me", { token: apiKey }));
    expect(passed + 1).toBeGreaterThanOrEqual(low.limit);
    expect(refused.json).toEqual({ code: 429, message: expect.stringContaining("Rate limit exceeded"), data: null });
    expect(refused.headers.get("retry-after")).toBe(String(low.period));
    expect(refused.headers.get("ratelimit")).toBe(`"ingest-low";r=0;t=${low.period}`);
    expect(refused.headers.get("ratelimit-policy")).toBe(`"ingest-low";q=${low.limit};w=${low.period}`);

    const other = await createApiKey(tenant.id);
    expect((await call("GET", "/v1/me", { token: other.api_key })).status).toBe(200);
  });

  it("the unlimited tier counts nothing and sends no RateLimit fields", async () => {
    const { tenant, apiKey } = await setupTenant("v1-unlimited");
    await setTiers(tenant.id, { ingest: "unlimited" });
    const r = await call("GET", "/v1/me", { token: apiKey });
    expect(r.status).toBe(200);
    expect(r.headers.get("ratelimit-policy")).toBeNull();
  });
});

describe("/api/1: per client", () => {
  it("past the tier's limit: 429 in the { error } envelope; another client of the tenant is not affected", async () => {
    const { tenant, token, client } = await setupTenant("api-limit");
    await setTiers(tenant.id, { api: "low" });
    const low = TIER_LIMITS.api.low;
    const { passed, refused } = await untilRefused(low.limit, () => call("GET", "/api/1/me", { token }));
    expect(passed + 1).toBeGreaterThanOrEqual(low.limit);
    expect(refused.json.error).toMatchObject({ code: "rate_limited", message: expect.stringContaining("this client") });
    expect(refused.headers.get("retry-after")).toBe(String(low.period));
    expect(refused.headers.get("ratelimit")).toBe(`"api-low";r=0;t=${low.period}`);

    const other = await createClient(tenant.id);
    const t2 = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: other.client_id, client_secret: other.client_secret },
    });
    expect((await call("GET", "/api/1/me", { token: t2.json.access_token })).status).toBe(200);
    expect(client.client_id).not.toBe(other.client_id);
  });
});

const tokenRequest = (client_id: string, client_secret: string, headers: Record<string, string> = {}) =>
  call("POST", "/api/1/oauth2/access_token", { body: { grant_type: "client_credentials", client_id, client_secret }, headers });

describe("token endpoint", () => {
  it("per client id: a burst of valid requests is refused past the limit", async () => {
    const { client } = await setupTenant("token-client");
    const { passed, refused } = await untilRefused(TOKEN_LIMITS.client.limit, () => tokenRequest(client.client_id, client.client_secret));
    expect(passed + 1).toBeGreaterThanOrEqual(TOKEN_LIMITS.client.limit);
    expect(refused.json).toEqual({ error: "temporarily_unavailable", error_description: expect.stringContaining("client_id") });
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.get("ratelimit-policy")).toBe(`"token-client";q=${TOKEN_LIMITS.client.limit};w=60`);
  });

  it("per IP (CF-Connecting-IP): refused past the limit whatever the client id", async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}`;
    let n = 0;
    const { passed, refused } = await untilRefused(TOKEN_LIMITS.ip.limit, async () => {
      // a different unknown id each time: neither the per-client limit nor the lock-out applies
      const r = await tokenRequest(`cli_unknown_${n++}_${crypto.randomUUID()}`, "wrong", { "CF-Connecting-IP": ip });
      return r.status === 401 ? { ...r, status: 200 } : r;
    });
    expect(passed + 1).toBeGreaterThanOrEqual(TOKEN_LIMITS.ip.limit);
    expect(refused.json.error).toBe("temporarily_unavailable");
    expect(refused.headers.get("ratelimit")).toBe(`"token-ip";r=0;t=60`);
  });

  it("repeated failed authentications lock the client id out, even for the right secret; logged to the console and the audit log", async () => {
    const { tenant, client } = await setupTenant("lockout");
    const warn = vi.spyOn(console, "warn");
    for (let i = 0; i < LOCKOUT.threshold; i++) {
      const r = await tokenRequest(client.client_id, "wrong-secret", { "CF-Connecting-IP": "198.51.100.7" });
      expect(r.status).toBe(401);
    }
    const locked = await tokenRequest(client.client_id, client.client_secret);
    expect(locked.status).toBe(429);
    expect(locked.json.error).toBe("temporarily_unavailable");
    const retry = Number(locked.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(LOCKOUT.lockSeconds - 10);
    expect(retry).toBeLessThanOrEqual(LOCKOUT.lockSeconds);

    const audit = await e.DB.prepare("SELECT * FROM audit_log WHERE action = 'client.locked_out' AND tenant_id = ?").bind(tenant.id).all<any>();
    expect(audit.results).toHaveLength(1);
    expect(JSON.parse(audit.results[0].details)).toMatchObject({ client_id: client.client_id, failures: LOCKOUT.threshold, ip: "198.51.100.7" });
    expect(audit.results[0].actor).toBe("ip:198.51.100.7");
    const line = warn.mock.calls.map((c) => String(c[0])).find((l) => l.includes("client.locked_out"));
    expect(JSON.parse(line!)).toMatchObject({ event: "client.locked_out", tenant_id: tenant.id, client_id: client.client_id });
  });

  it("an unknown client id is locked out the same way (the answers do not tell whether an id exists)", async () => {
    const id = `cli_ghost_${crypto.randomUUID()}`;
    for (let i = 0; i < LOCKOUT.threshold; i++) expect((await tokenRequest(id, "x")).status).toBe(401);
    expect((await tokenRequest(id, "x")).status).toBe(429);
    const audit = await e.DB.prepare("SELECT tenant_id FROM audit_log WHERE action = 'client.locked_out' AND details LIKE ?").bind(`%${id}%`).all<any>();
    expect(audit.results).toEqual([{ tenant_id: null }]);
  });

  it("a success before the threshold forgets the failures", async () => {
    // no token taken first: 2 * (threshold - 1) + 2 calls stay within the per-client-id limit
    const client = await createClient((await createTenant("forget")).id);
    for (let i = 0; i < LOCKOUT.threshold - 1; i++) await tokenRequest(client.client_id, "wrong");
    expect((await tokenRequest(client.client_id, client.client_secret)).status).toBe(200);
    for (let i = 0; i < LOCKOUT.threshold - 1; i++) await tokenRequest(client.client_id, "wrong");
    expect((await tokenRequest(client.client_id, client.client_secret)).status).toBe(200);
  });
});

describe("lock-out timing (service clock)", () => {
  it("the lock ends after lockSeconds; failures spread wider than the window never lock", async () => {
    const clock = fixedClock(Date.UTC(2026, 0, 1));
    const s = createServices(e, { clock });
    const id = `cli_clock_${crypto.randomUUID()}`;
    vi.spyOn(console, "warn").mockImplementation(() => {});
    for (let i = 0; i < LOCKOUT.threshold; i++) await recordFailedClientAuth(s, id, null);
    expect((await clientLockState(s, id)).lockedFor).toBe(LOCKOUT.lockSeconds);
    clock.advance(LOCKOUT.lockSeconds - 1);
    expect((await clientLockState(s, id)).lockedFor).toBe(1);
    clock.advance(1);
    expect((await clientLockState(s, id)).lockedFor).toBe(0);
    // the next failure starts a new count instead of re-locking at once
    expect((await recordFailedClientAuth(s, id, null)).lockedFor).toBe(0);

    const slow = `cli_slow_${crypto.randomUUID()}`;
    for (let i = 0; i < LOCKOUT.threshold * 2; i++) {
      expect((await recordFailedClientAuth(s, slow, null)).lockedFor).toBe(0);
      clock.advance(Math.ceil(LOCKOUT.windowSeconds / (LOCKOUT.threshold - 1)) + 1);
    }
  });

  it("concurrent failures count once each and lock (and log) exactly once", async () => {
    const s = createServices(e, { clock: fixedClock(Date.UTC(2026, 0, 2)) });
    const id = `cli_burst_${crypto.randomUUID()}`;
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await Promise.all(Array.from({ length: LOCKOUT.threshold + 5 }, () => recordFailedClientAuth(s, id, null)));
    const row = await e.DB.prepare("SELECT failures FROM client_auth_failures WHERE client_id = ?").bind(id).first<{ failures: number }>();
    expect(row?.failures).toBe(LOCKOUT.threshold + 5);
    const audit = await e.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE details LIKE ?").bind(`%${id}%`).first<{ n: number }>();
    expect(audit?.n).toBe(1);
  });
});
