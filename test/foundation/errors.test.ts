import { describe, expect, it } from "vitest";
import { ADMIN, call, createTenant, setupTenant } from "../helpers";

const tokenUrl = "/api/1/oauth2/access_token";

describe("token endpoint errors follow RFC 6749 section 5.2", () => {
  it("missing grant_type is invalid_request", async () => {
    const r = await call("POST", tokenUrl, { body: { client_id: "a", client_secret: "b" } });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("invalid_request");
    expect(r.headers.get("cache-control")).toBe("no-store");
  });

  it("another grant type is unsupported_grant_type", async () => {
    const r = await call("POST", tokenUrl, { body: { grant_type: "password", username: "u", password: "p" } });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("unsupported_grant_type");
  });

  it("missing credentials are invalid_request; both Basic and body secret are invalid_request", async () => {
    expect((await call("POST", tokenUrl, { body: { grant_type: "client_credentials" } })).json.error).toBe(
      "invalid_request",
    );
    const both = await call("POST", tokenUrl, {
      body: { grant_type: "client_credentials", client_id: "a", client_secret: "b" },
      headers: { Authorization: `Basic ${btoa("a:b")}` },
    });
    expect(both.status).toBe(400);
    expect(both.json.error).toBe("invalid_request");
  });

  it("malformed JSON, non-object bodies and unknown content types are invalid_request", async () => {
    for (const [body, type] of [
      ["{not json", "application/json"],
      ["[1,2]", "application/json"],
      ["grant_type=client_credentials", "text/plain"],
      ['{"grant_type": 5}', "application/json"],
    ] as const) {
      const r = await call("POST", tokenUrl, { body, headers: { "Content-Type": type } });
      expect(r.status, body).toBe(400);
      expect(r.json.error, body).toBe("invalid_request");
      expect(typeof r.json.error_description).toBe("string");
    }
  });

  it("bad client credentials are invalid_client, 401 with WWW-Authenticate", async () => {
    const r = await call("POST", tokenUrl, {
      body: { grant_type: "client_credentials", client_id: "cli_x", client_secret: "nope" },
    });
    expect(r.status).toBe(401);
    expect(r.json.error).toBe("invalid_client");
    expect(r.headers.get("www-authenticate")).toMatch(/^Basic/);
    const malformedBasic = await call("POST", tokenUrl, {
      body: "grant_type=client_credentials",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: "Basic !!!" },
    });
    expect(malformedBasic.status).toBe(401);
    expect(malformedBasic.json.error).toBe("invalid_client");
  });
});

describe("the API error envelope", () => {
  it("validation errors name the field", async () => {
    const r = await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: { name: "" } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("validation_failed");
    expect(r.json.error.message).toContain("name");
    expect(r.json.error.request_id).toMatch(/^req_/);
    expect(r.json.error.details[0].path).toBe("name");
  });

  it("unknown permissions are refused with the allowed list", async () => {
    const t = await createTenant();
    const r = await call("POST", `/api/1/admin/tenants/${t.id}/clients`, {
      headers: ADMIN,
      body: { name: "c", permissions: ["root"] },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.details[0].path).toBe("permissions.0");
    expect(r.json.error.message).toContain("automated-exports-view");
  });

  it("malformed JSON is a 400, not a 500", async () => {
    const r = await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: "{oops" });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toMatch(/bad_request|validation_failed/);
  });

  it("an unknown tenant is a 404", async () => {
    const r = await call("POST", "/api/1/admin/tenants/ten_nope/clients", {
      headers: ADMIN,
      body: { name: "c", permissions: ["ingest"] },
    });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe("not_found");
  });

  it("unknown routes and unknown models are 404 in the envelope", async () => {
    const r = await call("GET", "/api/1/nothing-here");
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe("not_found");
    const { token } = await setupTenant();
    const m = await call("GET", "/api/1/models/unicorns", { token });
    expect(m.status).toBe(404);
    expect(m.json.error.message).toContain("unicorns");
  });

  it("a body over the limit is a 413 naming the limit, and nothing is written", async () => {
    const before = (await call("GET", "/api/1/admin/tenants", { headers: ADMIN })).json.tenants.length;
    const big = JSON.stringify({ name: "x".repeat(1_100_000) });
    const r = await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: big });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe("payload_too_large");
    expect(r.json.error.message).toContain("1048576");
    const list = await call("GET", "/api/1/admin/tenants", { headers: ADMIN });
    expect(list.json.tenants).toHaveLength(before);
  });

  it("errors under /v1 use the ingestion envelope", async () => {
    const r = await call("GET", "/v1/me");
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ code: 401, message: expect.stringContaining("API key"), data: null });
  });
});
