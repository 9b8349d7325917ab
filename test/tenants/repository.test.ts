import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import {
  appendAudit,
  countTenantsPerShard,
  getApiKeyByHashUnscoped,
  getClientUnscoped,
  insertApiKey,
  insertClient,
  insertTenant,
  listApiKeys,
  listClients,
  revokeApiKey,
  revokeClient,
} from "../../src/db/tenants";
import type { Env } from "../../src/env";
import { createServices, fixedClock } from "../../src/services";
import { listSigningKeys, retireSigningKey, rotateSigningKey } from "../../src/tenants/signing-keys";
import { createClient, createTenant } from "../../src/tenants/tenants";
import { CLOCK_SKEW_SECONDS, TokenError, issueAccessToken, tokenTtl, verifyAccessToken } from "../../src/tenants/tokens";

const e = env as unknown as Env;
let n = 0;
const uid = (prefix: string) => `${prefix}_repo_${Date.now()}_${n++}`;

/** Two tenants on different shards, each with one client and one API key, written through the repository. */
async function twoTenants() {
  const { db } = createServices(e);
  const make = async (shard: number) => {
    const tenant = { id: uid("ten"), name: "t", shard, created_at: 1 };
    await insertTenant(db, tenant);
    const client = { id: uid("cli"), tenant_id: tenant.id, name: "c", secret_hash: uid("h"), permissions: ["ingest"], created_at: 1, revoked_at: null, token_ttl_seconds: null };
    await insertClient(db, client);
    const key = { id: uid("key"), tenant_id: tenant.id, name: "k", key_hash: uid("kh"), created_at: 1, revoked_at: null };
    await insertApiKey(db, key);
    return { tenant, client, key };
  };
  return { db, a: await make(0), b: await make(1) };
}

describe("tenants repository: scoping", () => {
  it("listing clients and API keys with another tenant's id finds none of them", async () => {
    const { db, a, b } = await twoTenants();
    expect((await listClients(db, a.tenant.id)).map((c) => c.id)).toEqual([a.client.id]);
    expect((await listApiKeys(db, a.tenant.id)).map((k) => k.id)).toEqual([a.key.id]);
    expect((await listClients(db, b.tenant.id)).map((c) => c.id)).toEqual([b.client.id]);
    expect((await listApiKeys(db, b.tenant.id)).map((k) => k.id)).toEqual([b.key.id]);
  });

  it("revoking a client or an API key with another tenant's id changes nothing", async () => {
    const { db, a, b } = await twoTenants();
    expect(await revokeClient(db, b.tenant.id, a.client.id, 100)).toBe(false);
    expect(await revokeApiKey(db, b.tenant.id, a.key.id, 100)).toBeNull();
    expect((await getClientUnscoped(db, a.client.id))?.revoked_at).toBeNull();
    expect((await getApiKeyByHashUnscoped(db, a.key.key_hash))?.revoked_at).toBeNull();

    // With the right tenant: revoked once, and only once.
    expect(await revokeClient(db, a.tenant.id, a.client.id, 100)).toBe(true);
    expect(await revokeClient(db, a.tenant.id, a.client.id, 200)).toBe(false);
    expect(await revokeApiKey(db, a.tenant.id, a.key.id, 100)).toBe(a.key.key_hash);
    expect(await revokeApiKey(db, a.tenant.id, a.key.id, 200)).toBeNull();
    expect((await getClientUnscoped(db, a.client.id))?.revoked_at).toBe(100);
    expect((await getApiKeyByHashUnscoped(db, a.key.key_hash))?.revoked_at).toBe(100);
    // The other tenant's credentials are untouched.
    expect((await getClientUnscoped(db, b.client.id))?.revoked_at).toBeNull();
    expect((await getApiKeyByHashUnscoped(db, b.key.key_hash))?.revoked_at).toBeNull();
  });

  it("the unscoped credential lookups answer the owner tenant and its shard", async () => {
    const { db, a, b } = await twoTenants();
    expect(await getClientUnscoped(db, b.client.id)).toMatchObject({ tenant_id: b.tenant.id, shard: 1 });
    expect(await getApiKeyByHashUnscoped(db, a.key.key_hash)).toMatchObject({ tenant_id: a.tenant.id, shard: 0 });
    expect(await getClientUnscoped(db, "cli_nope")).toBeUndefined();
    expect(await getApiKeyByHashUnscoped(db, "nope")).toBeUndefined();
  });

  it("counts tenants per shard", async () => {
    const { db } = createServices(e);
    const before = await countTenantsPerShard(db);
    await twoTenants();
    const after = await countTenantsPerShard(db);
    const on = (rows: { shard: number; c: number }[], shard: number) => rows.find((r) => r.shard === shard)?.c ?? 0;
    expect(on(after, 0) - on(before, 0)).toBe(1);
    expect(on(after, 1) - on(before, 1)).toBe(1);
  });

  it("appends audit entries whose details read back as the JSON object", async () => {
    const { db } = createServices(e);
    const id = uid("aud");
    await appendAudit(db, { id, tenant_id: "ten_x", actor: "client:cli_x", action: "test.action", details: { rows: 3 }, created_at: 42 });
    const row = await e.DB.prepare("SELECT actor, action, details, created_at FROM audit_log WHERE id = ?1").bind(id).first();
    expect(row).toEqual({ actor: "client:cli_x", action: "test.action", details: '{"rows":3}', created_at: 42 });
  });
});

describe("tenant services read time from s.clock", () => {
  const T0 = Date.UTC(2030, 0, 1);

  it("a token's iat/exp come from the clock, and its expiry is judged by the clock", async () => {
    const clock = fixedClock(T0);
    const s = createServices(e, { clock });
    const tenant = await createTenant(s, "clocked");
    expect(tenant.created_at).toBe(T0 / 1000);
    const client = await createClient(s, tenant.id, "c", ["ingest"]);
    const { token, expiresIn } = await issueAccessToken(s, { id: client.id, tenantId: tenant.id, permissions: ["ingest"], tokenTtlSeconds: null });
    expect(decodeJwt(token)).toMatchObject({ iat: T0 / 1000, exp: T0 / 1000 + tokenTtl(e) });
    expect(expiresIn).toBe(tokenTtl(e));

    clock.advance(expiresIn + CLOCK_SKEW_SECONDS - 1);
    expect((await verifyAccessToken(s, token)).tenantId).toBe(tenant.id);
    clock.advance(2);
    await expect(verifyAccessToken(s, token)).rejects.toThrow(new TokenError("token expired"));
  });

  it("signing keys are created and retired at the clock's time, and listed without key material", async () => {
    const clock = fixedClock(T0);
    const s = createServices(e, { clock });
    const first = await rotateSigningKey(s);
    clock.advance(60);
    await rotateSigningKey(s);
    clock.advance(60);
    expect(await retireSigningKey(s, first)).toBe("retired");
    const keys = await listSigningKeys(s);
    expect(keys.find((k) => k.kid === first)).toEqual({
      kid: first,
      alg: "ES256",
      status: "retired",
      created_at: T0 / 1000,
      retired_at: T0 / 1000 + 120,
    });
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(["alg", "created_at", "kid", "retired_at", "status"]);
  });
});
