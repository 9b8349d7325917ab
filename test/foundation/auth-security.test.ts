import { env } from "cloudflare:test";
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createClient, getToken, setupTenant } from "../helpers";

function b64(obj: unknown) {
  return base64url.encode(JSON.stringify(obj));
}

async function expectRejected(token: string, reason?: string) {
  const r = await call("GET", "/api/1/me", { token });
  expect(r.status).toBe(401);
  expect(r.json.error.code).toBe("unauthorized");
  expect(r.headers.get("www-authenticate")).toContain('error="invalid_token"');
  if (reason) expect(r.json.error.message).toContain(reason);
  return r;
}

describe("access token verification refuses forged and stale tokens", () => {
  it("alg none", async () => {
    const { token } = await setupTenant();
    const [, payload] = token.split(".");
    const kid = decodeProtectedHeader(token).kid;
    await expectRejected(`${b64({ alg: "none", typ: "at+jwt", kid })}.${payload}.`);
  });

  it("HS256 signed with the public key as the HMAC secret (algorithm confusion)", async () => {
    const { token } = await setupTenant();
    const kid = decodeProtectedHeader(token).kid as string;
    const jwks = await call("GET", "/.well-known/jwks.json");
    const pub = JSON.stringify(jwks.json.keys[0]);
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
      .sign(new TextEncoder().encode(pub));
    await expectRejected(forged);
  });

  it("ES256 signed by an attacker's key under the real kid", async () => {
    const { token } = await setupTenant();
    const kid = decodeProtectedHeader(token).kid as string;
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(privateKey);
    await expectRejected(forged, "invalid token");
  });

  it("unknown kid", async () => {
    const { token } = await setupTenant();
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k_attacker" })
      .sign(privateKey);
    await expectRejected(forged, "unknown signing key");
  });

  it("tampered payload (tenant swapped) with the original signature", async () => {
    const a = await setupTenant("a");
    const b = await setupTenant("b");
    const [h, p, s] = a.token.split(".");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p as string)));
    claims.tenant_id = b.tenant.id;
    await expectRejected(`${h}.${b64(claims)}.${s}`);
  });

  it("wrong audience, wrong issuer, wrong typ, expired — each signed with the real key", async () => {
    const { client, token } = await setupTenant();
    // Sign with the server's real active key, to prove the claim checks (not the signature) refuse these.
    const { activeSigner } = await import("../../src/tenants/signing-keys");
    const { createServices } = await import("../../src/services");
    const { kid, key } = await activeSigner(createServices(env as never));
    const base = decodeJwt(token);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, typ = "at+jwt") =>
      new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: "ES256", typ, kid }).sign(key);

    // control: the same recipe with correct claims is accepted
    expect((await call("GET", "/api/1/me", { token: await sign({}) })).status).toBe(200);
    await expectRejected(await sign({ aud: "someone-else" }));
    await expectRejected(await sign({ iss: "https://evil.example" }));
    await expectRejected(await sign({}, "JWT"));
    await expectRejected(await sign({ iat: now - 7200, exp: now - 3600 }), "token expired");
    // inside the 30 s clock-skew allowance is still fine
    expect((await call("GET", "/api/1/me", { token: await sign({ exp: now - 10 }) })).status).toBe(200);
    // sub must be the client
    await expectRejected(await sign({ sub: "cli_other", client_id: client.client_id }));
  });

  it("a revoked client's tokens stop working, and it can no longer get tokens", async () => {
    const { tenant, client, token } = await setupTenant();
    expect((await call("GET", "/api/1/me", { token })).status).toBe(200);
    const del = await call("DELETE", `/api/1/admin/tenants/${tenant.id}/clients/${client.client_id}`, { headers: ADMIN });
    expect(del.status).toBe(204);
    await expectRejected(token, "client revoked");
    const again = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
    });
    expect(again.status).toBe(401);
    expect(again.json.error).toBe("invalid_client");
  });

  it("a revoked API key is refused", async () => {
    const { tenant, apiKey, apiKeyId } = await setupTenant();
    expect((await call("GET", "/v1/me", { token: apiKey })).status).toBe(200);
    expect(
      (await call("DELETE", `/api/1/admin/tenants/${tenant.id}/api-keys/${apiKeyId}`, { headers: ADMIN })).status,
    ).toBe(204);
    const r = await call("GET", "/v1/me", { token: apiKey });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ code: 401, message: "API key is invalid or revoked", data: null });
  });

  it("one tenant cannot revoke another tenant's client or key (404)", async () => {
    const a = await setupTenant("a");
    const b = await setupTenant("b");
    const r1 = await call("DELETE", `/api/1/admin/tenants/${b.tenant.id}/clients/${a.client.client_id}`, { headers: ADMIN });
    expect(r1.status).toBe(404);
    const r2 = await call("DELETE", `/api/1/admin/tenants/${b.tenant.id}/api-keys/${a.apiKeyId}`, { headers: ADMIN });
    expect(r2.status).toBe(404);
    expect((await call("GET", "/api/1/me", { token: a.token })).status).toBe(200);
    expect((await call("GET", "/v1/me", { token: a.apiKey })).status).toBe(200);
  });

  it("an API key is not an access token and an access token is not an API key", async () => {
    const { tenant, token, apiKey } = await setupTenant();
    expect((await call("GET", "/api/1/me", { token: apiKey })).status).toBe(401);
    // A client's access token works on /v1 only with the 'ingest' permission (test/edge/ingest-permission.test.ts).
    const { client_id, client_secret } = await createClient(tenant.id, ["exports-manage"]);
    expect((await call("GET", "/v1/me", { token: await getToken({ client_id, client_secret }) })).status).toBe(403);
    expect((await call("GET", "/v1/me", { token })).status).toBe(200);
  });

  it("missing permission is a 403 naming the permission", async () => {
    const { tenant } = await setupTenant();
    const { requireToken } = await import("../../src/middleware/auth");
    const { createRouter } = await import("../../src/lib/router");
    const { buildApp } = await import("../../src/app");
    // A route guarded by the real middleware, mounted in an app as each route group's is built
    // (error envelope included).
    const guarded = createRouter();
    guarded.get("/needs-manage", requireToken("exports-manage"), (c) => c.json({ ok: true }));
    const app = buildApp({}, (a) => a.route("/t", guarded));
    const ingestOnly = await getToken(await createClient(tenant.id, ["ingest"]));
    const manager = await getToken(await createClient(tenant.id, ["exports-manage"]));
    const denied = await app.request("/t/needs-manage", { headers: { Authorization: `Bearer ${ingestOnly}` } }, env);
    expect(denied.status).toBe(403);
    const body = (await denied.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("forbidden");
    expect(body.error.message).toContain("exports-manage");
    const allowed = await app.request("/t/needs-manage", { headers: { Authorization: `Bearer ${manager}` } }, env);
    expect(allowed.status).toBe(200);
  });

  it("wrong secret and unknown client get the same answer", async () => {
    const { client } = await setupTenant();
    const wrong = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: `${client.client_secret}x` },
    });
    const unknown = await call("POST", "/api/1/oauth2/access_token", {
      body: { grant_type: "client_credentials", client_id: "cli_doesnotexist00000000", client_secret: client.client_secret },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.json).toEqual({ error: "invalid_client", error_description: "Client authentication failed" });
    expect(wrong.headers.get("www-authenticate")).toBe(unknown.headers.get("www-authenticate"));
  });

  it("admin routes refuse a missing or wrong admin token", async () => {
    const none = await call("POST", "/api/1/admin/tenants", { body: { name: "x" } });
    expect(none.status).toBe(401);
    const wrong = await call("POST", "/api/1/admin/tenants", {
      body: { name: "x" },
      headers: { Authorization: "Bearer test-admin-tokeN" },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe("unauthorized");
    const { token } = await setupTenant();
    expect((await call("GET", "/api/1/admin/tenants", { token })).status).toBe(401);
  });

  it("private keys are stored encrypted", async () => {
    await setupTenant();
    const rows = await env.DB.prepare("SELECT private_jwk_sealed, public_jwk FROM signing_keys").all<{
      private_jwk_sealed: string;
      public_jwk: string;
    }>();
    expect(rows.results.length).toBeGreaterThan(0);
    for (const r of rows.results) {
      expect(r.private_jwk_sealed.startsWith("v1.")).toBe(true);
      expect(r.private_jwk_sealed).not.toContain('"d"');
      expect(JSON.parse(r.public_jwk).d).toBeUndefined();
    }
  });
});
