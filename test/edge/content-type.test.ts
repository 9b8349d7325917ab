import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BOOKMARK_HEADER } from "../../src/db/sessions";
import { firstBadUtf8Byte } from "../../src/lib/utf8";
import { ADMIN, BASE, call, setupTenant } from "../helpers";

type Ref = { $ref?: string };
type Operation = {
  requestBody?: { content?: Record<string, unknown> };
  parameters?: (Ref & { name?: string; in?: string })[];
  responses: Record<string, Ref & { headers?: Record<string, Ref> }>;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { headers?: Record<string, { description: string }>; parameters?: Record<string, { name: string; in: string; required: boolean }> };
};

/**
 * Every operation of /openapi.json whose body is JSON, with its path parameters filled in; the
 * token endpoint answers RFC 6749's own errors (test/foundation/errors.test.ts).
 */
async function jsonRoutes(): Promise<{ method: string; path: string }[]> {
  const doc = (await (await SELF.fetch(`${BASE}/openapi.json`)).json()) as Doc;
  const out: { method: string; path: string }[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const types = Object.keys(op.requestBody?.content ?? {});
      if (types.includes("application/json") && template !== "/api/1/oauth2/access_token") out.push({ method: method.toUpperCase(), path: template.replace(/\{[^}]+\}/g, "x1") });
    }
  }
  return out;
}

/** The error code of either envelope: `{ code }` on /v1, `{ error: { code } }` elsewhere. */
function errorCode(path: string, json: any): unknown {
  return path.startsWith("/v1/") ? json?.code : json?.error?.code;
}

describe("request bodies: the documented media type, well-formed UTF-8", () => {
  it("every JSON route of /openapi.json answers 415 to another Content-Type (and to none), in its area's envelope", async () => {
    const routes = await jsonRoutes();
    expect(routes.length).toBeGreaterThan(30);
    expect(routes.some((r) => r.path.startsWith("/v1/"))).toBe(true);
    for (const { method, path } of routes) {
      const wrong = await call(method, path, { body: "{}", headers: { "Content-Type": "text/plain" } });
      expect(wrong.status, `${method} ${path}`).toBe(415);
      expect(errorCode(path, wrong.json), `${method} ${path}`).toBe(path.startsWith("/v1/") ? 415 : "unsupported_media_type");
      expect(path.startsWith("/v1/") ? wrong.json.message : wrong.json.error.message).toMatch(/Content-Type must be .*application\/json.*, got text\/plain$/);
      const none = await SELF.fetch(`${BASE}${path}`, { method, body: new TextEncoder().encode("{}") });
      await none.arrayBuffer();
      expect(none.status, `${method} ${path} without Content-Type`).toBe(415);
    }
  });

  it("every JSON route answers 400 to a body that is not UTF-8, naming the byte, in its area's envelope", async () => {
    const bad = new Uint8Array([...new TextEncoder().encode('{"name":"caf'), 0xe9, ...new TextEncoder().encode('"}')]);
    for (const { method, path } of await jsonRoutes()) {
      const res = await SELF.fetch(`${BASE}${path}`, { method, body: bad, headers: { "Content-Type": "application/json; charset=utf-8" } });
      const json: any = await res.json();
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(errorCode(path, json), `${method} ${path}`).toBe(path.startsWith("/v1/") ? 400 : "bad_request");
      expect(path.startsWith("/v1/") ? json.message : json.error.message).toBe("The JSON body is not valid UTF-8: byte 12 starts an ill-formed sequence");
    }
  });

  it("a well-formed body still goes through, with multi-byte characters intact", async () => {
    const { apiKey } = await setupTenant("utf8-ok");
    const created = await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: { name: "café-☕-𝄞" } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.name).toBe("café-☕-𝄞");
    const ing = await call("POST", "/v1/logins", { token: apiKey, body: { users: [{ user_id: "zoë" }] } });
    expect(ing.status, ing.text).toBeLessThan(300);
    // The token endpoint takes a form body, as RFC 6749 asks, and answers a bad one as invalid_request.
    const plain = await call("POST", "/api/1/oauth2/access_token", { body: "{}", headers: { "Content-Type": "text/plain" } });
    expect(plain.status).toBe(400);
    expect(plain.json.error).toBe("invalid_request");
    const form = await SELF.fetch(`${BASE}/api/1/oauth2/access_token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&client_id=nope&client_secret=nope",
    });
    expect(form.status).toBe(401);
    await form.arrayBuffer();
  });

  it("firstBadUtf8Byte finds overlong forms, surrogates, truncated and out-of-range sequences", () => {
    const at = (...b: number[]) => firstBadUtf8Byte(new Uint8Array(b));
    expect(at(0x61, 0xc3, 0xa9, 0xe2, 0x98, 0x95, 0xf0, 0x9d, 0x84, 0x9e)).toBe(-1);
    expect(at(0x61, 0xc0, 0xaf)).toBe(1); // overlong '/'
    expect(at(0xe0, 0x80, 0xaf)).toBe(0); // overlong 3-byte
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // surrogate U+D800
    expect(at(0x61, 0x62, 0xe2, 0x98)).toBe(2); // truncated
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // past U+10FFFF
    expect(at(0x80)).toBe(0); // lone continuation byte
  });
});

/** The read-only routes a read replica serves (docs/architecture.md, "Read replicas"). */
const READ_ONLY = [
  "GET /api/1/data-exporter/automated",
  "GET /api/1/data-exporter/automated/{name}/results",
  "GET /api/1/data-exporter/automated/fetch/{result_id}",
  "GET /api/1/models",
  "GET /api/1/models/{name}",
  "GET /api/1/models/{name}/custom-fields",
  "GET /api/1/exports",
  "GET /api/1/exports/{id}",
];

describe("/openapi.json describes x-d1-bookmark", () => {
  it("as a response header of every response of every operation, and as a request header on the read-only routes only", async () => {
    const doc = (await (await SELF.fetch(`${BASE}/openapi.json`)).json()) as Doc;
    const param = doc.components.parameters?.D1Bookmark;
    expect(param).toMatchObject({ name: BOOKMARK_HEADER, in: "header", required: false });
    expect(doc.components.headers?.D1Bookmark?.description).toContain("read-only route");
    const withParam: string[] = [];
    let responses = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        for (const [status, r] of Object.entries(op.responses)) {
          expect(r.headers?.[BOOKMARK_HEADER], `${name} ${status}`).toEqual({ $ref: "#/components/headers/D1Bookmark" });
          responses++;
        }
        const refs = (op.parameters ?? []).filter((p) => p.$ref === "#/components/parameters/D1Bookmark" || (p.in === "header" && p.name === BOOKMARK_HEADER));
        expect(refs.length, name).toBeLessThanOrEqual(1);
        if (refs.length) withParam.push(name);
      }
    }
    expect(responses).toBeGreaterThan(100);
    expect(withParam.sort()).toEqual([...READ_ONLY].sort());
  });

  it("what it documents is so: every GET answers the header, passing on what the client sent; a read-only route takes it", async () => {
    const { token } = await setupTenant("openapi-bookmark");
    const doc = (await (await SELF.fetch(`${BASE}/openapi.json`)).json()) as Doc;
    const gets = Object.entries(doc.paths).filter(([, ops]) => ops.get).map(([path]) => path);
    expect(gets.length).toBeGreaterThan(20);
    // a bookmark of a database no request here uses comes back on every answer, whatever its status
    const foreign = "DATA_99=00000000-00000001-00000000-00000000000000000000000000000000";
    const without: string[] = [];
    for (const path of gets) {
      const url = path.replace(/\{[^}]+\}/g, "x1");
      const auth = path.startsWith("/api/1/admin") ? { headers: { ...ADMIN, [BOOKMARK_HEADER]: foreign } } : { token, headers: { [BOOKMARK_HEADER]: foreign } };
      const r = await call("GET", url, auth);
      if (!(r.headers.get(BOOKMARK_HEADER) ?? "").split(",").includes(foreign)) without.push(`GET ${path} (${r.status})`);
    }
    expect(without).toEqual([]);
    // a bookmark sent to a read-only route is taken (a newer one answered), a bad one refused
    const given = "DB=00000000-00000001-00000000-00000000000000000000000000000000";
    for (const route of READ_ONLY.filter((r) => !r.includes("{"))) {
      const path = route.slice(4);
      const r = await call("GET", path, { token, headers: { [BOOKMARK_HEADER]: given } });
      expect(r.status, `${route}: ${r.text}`).toBe(200);
      expect(r.headers.get(BOOKMARK_HEADER) ?? "", route).toMatch(/DB=[0-9a-f-]+/);
      expect((await call("GET", path, { token, headers: { [BOOKMARK_HEADER]: "DB=nope" } })).status, route).toBe(400);
    }
  });
});
