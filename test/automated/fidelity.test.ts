import { env } from "cloudflare:test";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { newId } from "../../src/lib/ids";
import { createServices } from "../../src/services";
import { activeSigner } from "../../src/tenants/signing-keys";
import { ADMIN, call, createTenant, getToken, setupTenant } from "../helpers";

const e = env as unknown as Env;
const MAX = 15_897_600;

async function createExport(token: string, name: string, extra: Record<string, unknown> = {}) {
  const r = await call("POST", "/api/1/exports", { token, body: { name, model: "logins", all_fields: true, schedule: { type: "manual" }, ...extra } });
  expect(r.status, r.text).toBe(201);
  return r.json as { id: string; automated: boolean };
}

/** A finished run with its file in R2, as the run chain leaves it (the chain is tested in test/exports-run). */
async function finishedRun(tenantId: string, exportId: string) {
  const id = newId("run");
  const now = Math.floor(Date.now() / 1000);
  await e.FILES.put(`test-automated/${id}.json`, "{}");
  await e.DB.prepare(
    `INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, rows, bytes, created_at, finished_at, expires_at,
       file_key, file_name, content_type)
     VALUES (?1, ?2, ?3, 'finished', 'schedule', '{}', 1, 2, ?4, ?4, ?5, ?6, 'x.json', 'application/json')`,
  )
    .bind(id, tenantId, exportId, now, now + 86_400, `test-automated/${id}.json`)
    .run();
  return id;
}

async function newClient(tenantId: string, extra: Record<string, unknown> = {}) {
  return call("POST", `/api/1/admin/tenants/${tenantId}/clients`, {
    headers: ADMIN,
    body: { name: "integration", permissions: ["automated-exports-view"], ...extra },
  });
}

async function tokenResponse(client: { client_id: string; client_secret: string }) {
  return call("POST", "/api/1/oauth2/access_token", {
    body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
  });
}

describe("automated flag on a definition", () => {
  it("decides what the automated API lists, pages and fetches; default true; switchable with PATCH", async () => {
    const { tenant, token } = await setupTenant("automated-flag");
    const listed = await createExport(token, "win-info");
    const hidden = await createExport(token, "internal-audit", { automated: false });
    expect(listed.automated).toBe(true);
    expect(hidden.automated).toBe(false);
    const hiddenRun = await finishedRun(tenant.id, hidden.id);
    const listedRun = await finishedRun(tenant.id, listed.id);

    const names = async () => (await call("GET", "/api/1/data-exporter/automated", { token })).json.map((x: { system_name: string }) => x.system_name);
    expect(await names()).toEqual(["win-info"]);
    const results = await call("GET", "/api/1/data-exporter/automated/internal-audit/results", { token });
    expect(results.status).toBe(404);
    expect(results.json.error.message).toBe("No automated export named internal-audit");
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${hiddenRun}`, { token })).status).toBe(404);
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${listedRun}`, { token })).status).toBe(200);
    // its runs stay visible where the definition is managed
    expect((await call("GET", `/api/1/exports/${hidden.id}/runs/${hiddenRun}`, { token })).status).toBe(200);

    // only a disabled (or draft) definition can be edited: disable, switch the flag, enable
    expect((await call("POST", `/api/1/exports/${hidden.id}/disable`, { token })).status).toBe(200);
    const on = await call("PATCH", `/api/1/exports/${hidden.id}`, { token, body: { automated: true } });
    expect(on.status, on.text).toBe(200);
    expect(on.json.automated).toBe(true);
    expect((await call("POST", `/api/1/exports/${hidden.id}/enable`, { token })).status).toBe(200);
    expect(await names()).toEqual(["internal-audit", "win-info"]);
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${hiddenRun}`, { token })).status).toBe(200);
    expect((await call("GET", "/api/1/data-exporter/automated/internal-audit/results", { token })).json.total).toBe(1);

    const bad = await call("POST", "/api/1/exports", { token, body: { name: "x", model: "logins", all_fields: true, automated: "yes" } });
    expect(bad.status).toBe(400);
  });

  it("a definition stored before the flag existed (no automated key) is listed", async () => {
    const { tenant, token } = await setupTenant("automated-legacy");
    const exp = await createExport(token, "legacy");
    const row = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(exp.id).first<{ definition: string }>();
    const { automated: _, ...old } = JSON.parse(row!.definition);
    await e.DB.prepare("UPDATE exports SET definition = ?1 WHERE id = ?2").bind(JSON.stringify(old), exp.id).run();
    await finishedRun(tenant.id, exp.id);
    const list = await call("GET", "/api/1/data-exporter/automated", { token });
    expect(list.json.map((x: { system_name: string }) => x.system_name)).toEqual(["legacy"]);
  });
});

describe("per-client token lifetime", () => {
  it("a client made with the reference's 15,897,600 s gets tokens that long; revoking it refuses them at once", async () => {
    const tenant = await createTenant("long-lived");
    const made = await newClient(tenant.id, { token_ttl_seconds: MAX });
    expect(made.status, made.text).toBe(201);
    expect(made.json.token_ttl_seconds).toBe(MAX);
    const issued = await tokenResponse(made.json);
    expect(issued.status).toBe(200);
    expect(issued.json).toMatchObject({ token_type: "Bearer", expires_in: MAX });
    const claims = decodeJwt(issued.json.access_token);
    expect(claims.exp! - claims.iat!).toBe(MAX);
    const token = issued.json.access_token;
    expect((await call("GET", "/api/1/data-exporter/automated", { token })).status).toBe(200);

    expect((await call("DELETE", `/api/1/admin/tenants/${tenant.id}/clients/${made.json.client_id}`, { headers: ADMIN })).status).toBe(204);
    const after = await call("GET", "/api/1/data-exporter/automated", { token });
    expect(after.status).toBe(401);
    expect(after.json.error.message).toContain("client revoked");
  });

  it("defaults to TOKEN_TTL_SECONDS; PATCH changes it; a shorter lifetime refuses the client's longer tokens", async () => {
    const tenant = await createTenant("ttl-patch");
    const made = await newClient(tenant.id);
    expect(made.json.token_ttl_seconds).toBe(3600);
    expect((await tokenResponse(made.json)).json.expires_in).toBe(3600);

    const longer = await call("PATCH", `/api/1/admin/tenants/${tenant.id}/clients/${made.json.client_id}`, { headers: ADMIN, body: { token_ttl_seconds: 86_400 } });
    expect(longer.status, longer.text).toBe(200);
    expect(longer.json).toMatchObject({ client_id: made.json.client_id, token_ttl_seconds: 86_400, revoked_at: null });
    const day = await tokenResponse(made.json);
    expect(day.json.expires_in).toBe(86_400);
    expect((await call("GET", "/api/1/data-exporter/automated", { token: day.json.access_token })).status).toBe(200);

    const list = await call("GET", `/api/1/admin/tenants/${tenant.id}/clients`, { headers: ADMIN });
    expect(list.json.clients[0].token_ttl_seconds).toBe(86_400);

    // back to the default: the day-long token is now longer than the client may hold
    const reset = await call("PATCH", `/api/1/admin/tenants/${tenant.id}/clients/${made.json.client_id}`, { headers: ADMIN, body: { token_ttl_seconds: null } });
    expect(reset.json.token_ttl_seconds).toBe(3600);
    const refused = await call("GET", "/api/1/data-exporter/automated", { token: day.json.access_token });
    expect(refused.status).toBe(401);
    expect(refused.json.error.message).toContain("token lifetime exceeds the client's maximum");
    expect((await tokenResponse(made.json)).json.expires_in).toBe(3600);
  });

  it("refuses lifetimes beyond 15,897,600 s or under 60 s, and another tenant's client", async () => {
    const tenant = await createTenant("ttl-bounds");
    const over = await newClient(tenant.id, { token_ttl_seconds: MAX + 1 });
    expect(over.status).toBe(400);
    expect(over.text).toContain("token_ttl_seconds: at most 15897600");
    expect((await newClient(tenant.id, { token_ttl_seconds: 59 })).status).toBe(400);
    expect((await newClient(tenant.id, { token_ttl_seconds: 3600.5 })).status).toBe(400);
    const other = await createTenant("ttl-other");
    const made = await newClient(tenant.id);
    const cross = await call("PATCH", `/api/1/admin/tenants/${other.id}/clients/${made.json.client_id}`, { headers: ADMIN, body: { token_ttl_seconds: 7200 } });
    expect(cross.status).toBe(404);
    expect((await call("PATCH", `/api/1/admin/tenants/${tenant.id}/clients/${made.json.client_id}`, { headers: ADMIN, body: { secret: "x" } })).status).toBe(400);
  });

  it("a token signed with the tenant's real key whose exp - iat exceeds the client's lifetime is refused", async () => {
    const tenant = await createTenant("ttl-forged");
    const made = (await newClient(tenant.id, { token_ttl_seconds: 7200 })).json;
    const token = await getToken(made);
    const { kid, key } = await activeSigner(createServices(e));
    const base = decodeJwt(token);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) => new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(key);
    const get = async (t: string) => call("GET", "/api/1/data-exporter/automated", { token: t });

    // control: the same recipe at exactly the client's lifetime is accepted
    expect((await get(await sign({ iat: now, exp: now + 7200 }))).status).toBe(200);
    const longer = await get(await sign({ iat: now, exp: now + 7201 }));
    expect(longer.status).toBe(401);
    expect(longer.json.error.message).toContain("token lifetime exceeds the client's maximum");
    // a backdated iat cannot stretch the lifetime either
    expect((await get(await sign({ iat: now - 86_400, exp: now + 60 }))).status).toBe(401);
    // nor can a token claiming the reference's 184 days for a client that was given 2 hours
    expect((await get(await sign({ iat: now, exp: now + MAX }))).status).toBe(401);
  });
});
