import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createApiKey, createClient, createTenant, getToken, setupTenant } from "../helpers";

describe("admin -> client -> token -> call", () => {
  it("creates a tenant, a client and an API key; secrets are shown once", async () => {
    const tenant = await createTenant("acme");
    expect(tenant.id).toMatch(/^ten_/);
    expect(tenant.name).toBe("acme");
    const client = await createClient(tenant.id, ["automated-exports-view"]);
    expect(client.client_id).toMatch(/^cli_/);
    expect(client.client_secret.length).toBeGreaterThanOrEqual(40);
    expect(client.permissions).toEqual(["automated-exports-view"]);
    const key = await createApiKey(tenant.id);
    expect(key.api_key.length).toBeGreaterThanOrEqual(40);

    const list = await call("GET", `/api/1/admin/tenants/${tenant.id}/clients`, { headers: ADMIN });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(client.client_secret);
    const keys = await call("GET", `/api/1/admin/tenants/${tenant.id}/api-keys`, { headers: ADMIN });
    expect(keys.json.api_keys).toHaveLength(1);
    expect(keys.text).not.toContain(key.api_key);
  });

  it("stores only hashes of secrets and keys", async () => {
    const { env } = await import("cloudflare:test");
    const tenant = await createTenant();
    const client = await createClient(tenant.id);
    const key = await createApiKey(tenant.id);
    const dump = JSON.stringify([
      await env.DB.prepare("SELECT * FROM clients").all(),
      await env.DB.prepare("SELECT * FROM api_keys").all(),
    ]);
    expect(dump).not.toContain(client.client_secret);
    expect(dump).not.toContain(key.api_key);
  });

  it("issues an RFC 9068 token from a JSON body", async () => {
    const tenant = await createTenant();
    const client = await createClient(tenant.id, ["exports-manage"]);
    const r = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.json.token_type).toBe("Bearer");
    expect(r.json.expires_in).toBe(3600);
    expect(r.json.refresh_token).toBeUndefined();
    const header = decodeProtectedHeader(r.json.access_token);
    expect(header.alg).toBe("ES256");
    expect(header.typ).toBe("at+jwt");
    expect(header.kid).toBeTruthy();
    const claims = decodeJwt(r.json.access_token);
    expect(claims).toMatchObject({
      iss: "https://ferry.local",
      aud: "ferry-api",
      sub: client.client_id,
      client_id: client.client_id,
      tenant_id: tenant.id,
      permissions: ["exports-manage"],
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
    expect(typeof claims.jti).toBe("string");
  });

  it("accepts a form body and HTTP Basic client authentication", async () => {
    const tenant = await createTenant();
    const client = await createClient(tenant.id);
    const form = await call("POST", "/api/1/oauth2/access_token", {
      body: `grant_type=client_credentials&client_id=${client.client_id}&client_secret=${encodeURIComponent(client.client_secret)}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(200);
    const basic = await call("POST", "/api/1/oauth2/access_token", {
      body: "grant_type=client_credentials",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`${client.client_id}:${encodeURIComponent(client.client_secret)}`)}`,
      },
    });
    expect(basic.status).toBe(200);
    expect(decodeJwt(basic.json.access_token).sub).toBe(client.client_id);
  });

  it("the token verifies against the published JWKS and works on a protected route", async () => {
    const { tenant, token, client } = await setupTenant();
    const jwks = await call("GET", "/.well-known/jwks.json");
    expect(jwks.status).toBe(200);
    const kid = decodeProtectedHeader(token).kid;
    const jwk = jwks.json.keys.find((k: { kid: string }) => k.kid === kid);
    expect(jwk).toBeTruthy();
    expect(jwk.d).toBeUndefined(); // never the private part
    const { payload } = await jwtVerify(token, await importJWK(jwk, "ES256"), { audience: "ferry-api" });
    expect(payload.tenant_id).toBe(tenant.id);

    const me = await call("GET", "/api/1/me", { token });
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      tenant_id: tenant.id,
      kind: "client",
      subject: client.client_id,
      permissions: ["automated-exports-view", "exports-manage", "ingest"],
    });
    const models = await call("GET", "/api/1/models", { token });
    expect(models.status).toBe(200);
  });

  it("API keys authenticate ingestion routes and resolve to their tenant", async () => {
    const { tenant, apiKey, apiKeyId } = await setupTenant();
    const me = await call("GET", "/v1/me", { token: apiKey });
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      code: 200,
      message: "",
      data: { tenant_id: tenant.id, kind: "api_key", subject: apiKeyId, permissions: ["ingest"] },
    });
  });

  it("rotation: a token signed with the previous key verifies until that key is retired", async () => {
    const { token } = await setupTenant();
    const oldKid = decodeProtectedHeader(token).kid as string;
    const rot = await call("POST", "/api/1/admin/signing-keys/rotate", { headers: ADMIN });
    expect(rot.status).toBe(201);
    expect(rot.json.kid).not.toBe(oldKid);

    const jwks = await call("GET", "/.well-known/jwks.json");
    expect(jwks.json.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([oldKid, rot.json.kid].sort());
    expect((await call("GET", "/api/1/me", { token })).status).toBe(200);

    const keys = await call("GET", "/api/1/admin/signing-keys", { headers: ADMIN });
    expect(keys.json.keys.find((k: { kid: string }) => k.kid === oldKid).status).toBe("previous");

    const { client } = await setupTenant("other");
    const fresh = await getToken(client);
    expect(decodeProtectedHeader(fresh).kid).toBe(rot.json.kid);

    expect((await call("POST", `/api/1/admin/signing-keys/${rot.json.kid}/retire`, { headers: ADMIN })).status).toBe(409);
    expect((await call("POST", `/api/1/admin/signing-keys/${oldKid}/retire`, { headers: ADMIN })).status).toBe(204);
    const after = await call("GET", "/api/1/me", { token });
    expect(after.status).toBe(401);
    expect(after.json.error.message).toContain("unknown signing key");
    expect((await call("GET", "/api/1/me", { token: fresh })).status).toBe(200);
    const jwksAfter = await call("GET", "/.well-known/jwks.json");
    expect(jwksAfter.json.keys.map((k: { kid: string }) => k.kid)).toEqual([rot.json.kid]);
  });
});

describe("service endpoints", () => {
  it("serves /openapi.json describing every route and /docs", async () => {
    const doc = await call("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.json.paths);
    for (const p of [
      "/api/1/admin/tenants",
      "/api/1/admin/tenants/{id}/clients",
      "/api/1/admin/tenants/{id}/api-keys",
      "/api/1/oauth2/access_token",
      "/.well-known/jwks.json",
      "/api/1/models",
      "/api/1/models/{name}",
    ]) {
      expect(paths).toContain(p);
    }
    const docs = await call("GET", "/docs");
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toContain("text/html");
    expect(docs.text).toContain("/api/1/oauth2/access_token");
  });

  it("keeps a well-formed incoming request id and replaces a hostile one", async () => {
    const ok = await call("GET", "/health", { headers: { "X-Request-Id": "abc12345-trace" } });
    expect(ok.headers.get("x-request-id")).toBe("abc12345-trace");
    const bad = await call("GET", "/health", { headers: { "X-Request-Id": "<script>" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_/);
  });
});
