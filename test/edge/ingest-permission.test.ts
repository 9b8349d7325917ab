import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createClient, getToken, setupTenant } from "../helpers";

describe("the ingest permission: an access token with it may use /v1", () => {
  it("a client token with 'ingest' ingests into its own tenant; without it /v1 is a 403 in the /v1 envelope", async () => {
    const { tenant } = await setupTenant("ingest-by-token");
    const ingester = await getToken(await createClient(tenant.id, ["ingest"]));
    const viewer = await getToken(await createClient(tenant.id, ["automated-exports-view"]));

    const me = await call("GET", "/v1/me", { token: ingester });
    expect(me.status, me.text).toBe(200);
    expect(me.json.data).toMatchObject({ tenant_id: tenant.id, kind: "client", permissions: ["ingest"] });
    const ok = await call("POST", "/v1/logins", { token: ingester, body: { users: [{ user_id: "u-token" }] } });
    expect(ok.status, ok.text).toBe(201);

    const denied = await call("POST", "/v1/logins", { token: viewer, body: { users: [{ user_id: "u-no" }] } });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ code: 403, data: null });
    expect(denied.json.message).toMatch(/'ingest' permission/);

    // The token's row landed on the tenant's shard; the refused one did not.
    const { shard } = (await call("GET", `/api/1/admin/tenants/${tenant.id}`, { headers: ADMIN })).json;
    const db = (env as unknown as Record<string, D1Database>)[`DATA_${shard}`] as D1Database;
    const rows = await db.prepare("SELECT user_id FROM logins WHERE tenant_id = ?1").bind(tenant.id).all<{ user_id: string }>();
    expect(rows.results.map((r) => r.user_id)).toEqual(["u-token"]);
  });

  it("a forged or tampered token is a 401, never read as an API key", async () => {
    const { tenant } = await setupTenant("ingest-bad-token");
    const token = await getToken(await createClient(tenant.id, ["ingest"]));
    const [h, p, sig] = token.split(".");
    const tampered = `${h}.${p}.${sig?.slice(0, -4)}AAAA`;
    const r = await call("POST", "/v1/logins", { token: tampered, body: { users: [{ user_id: "u" }] } });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe(401);
    expect(r.json.message).toMatch(/Access token rejected/);
  });
});
