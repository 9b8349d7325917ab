import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { BOOKMARK_HEADER, openSessions, parseBookmarks } from "../../src/db/sessions";
import type { Env } from "../../src/env";
import { ADMIN, call, setupTenant } from "../helpers";

const e = env as unknown as Env;

/** The bookmark of one database out of an `x-d1-bookmark` header. */
const bookmarkOf = (header: string | null, db: string) => parseBookmarks(header).get(db);

describe("read replicas: x-d1-bookmark", () => {
  it("a write answers a bookmark; a read on a replica route carrying it sees the write and answers a bookmark at least as new", async () => {
    const { token } = await setupTenant("replica-own-writes");
    const created = await call("POST", "/api/1/exports", {
      token,
      body: { name: "replica-read", model: "logins", all_fields: true, schedule: { type: "manual" } },
    });
    expect(created.status, created.text).toBe(201);
    const written = created.headers.get(BOOKMARK_HEADER);
    const db = bookmarkOf(written, "DB");
    expect(db).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);

    for (const path of ["/api/1/exports", `/api/1/exports/${created.json.id}`, "/api/1/data-exporter/automated"]) {
      const read = await call("GET", path, { token, headers: { [BOOKMARK_HEADER]: written ?? "" } });
      expect(read.status, read.text).toBe(200);
      expect(read.text).toContain(created.json.id);
      const after = bookmarkOf(read.headers.get(BOOKMARK_HEADER), "DB");
      expect(after && db && after >= db, `${path}: ${after} >= ${db}`).toBe(true);
    }
    // The models are read-only too, and keep the client's bookmark for the next request.
    const models = await call("GET", "/api/1/models", { token, headers: { [BOOKMARK_HEADER]: written ?? "" } });
    expect(models.status).toBe(200);
    expect(bookmarkOf(models.headers.get(BOOKMARK_HEADER), "DB")).toBe(db);
  });

  it("an ingestion write answers the shard's bookmark, and the bookmark of a database a request did not touch is kept", async () => {
    const { tenant, apiKey } = await setupTenant("replica-shard");
    const { shard } = (await call("GET", `/api/1/admin/tenants/${tenant.id}`, { headers: ADMIN })).json;
    const other = `DATA_${1 - shard}`;
    const foreign = "00000000-00000001-00000000-00000000000000000000000000000000";
    const ing = await call("POST", "/v1/logins", {
      token: apiKey,
      body: { users: [{ user_id: "u-1" }] },
      headers: { [BOOKMARK_HEADER]: `${other}=${foreign}` },
    });
    expect(ing.status, ing.text).toBeLessThan(300);
    const header = ing.headers.get(BOOKMARK_HEADER);
    expect(bookmarkOf(header, `DATA_${shard}`)).toBeDefined();
    expect(bookmarkOf(header, other)).toBe(foreign);

    // A session opened with that bookmark sees the rows the write made.
    const sessions = openSessions(e, "first-unconstrained", parseBookmarks(header));
    const db = (sessions.env as unknown as Record<string, D1Database>)[`DATA_${shard}`] as D1Database;
    const row = await db.prepare("SELECT count(*) AS n FROM logins WHERE tenant_id = ?1").bind(tenant.id).first<{ n: number }>();
    expect(row?.n).toBe(1);
  });

  it("opens replica sessions with the client's bookmark, else first-unconstrained; other requests start at the primary", async () => {
    const seen: string[] = [];
    const recording = (db: D1Database): D1Database =>
      new Proxy(db, {
        get: (t, p) => (p === "withSession" ? (c: string) => (seen.push(c), t.withSession(c)) : Reflect.get(t, p)),
      });
    const recEnv = { ...e, DB: recording(e.DB), DATA_0: recording(e.DATA_0) };
    const given = parseBookmarks("DB=00000000-00000001-00000000-00000000000000000000000000000000");
    const replica = openSessions(recEnv, "first-unconstrained", given);
    await replica.env.DB.prepare("SELECT 1").first();
    await replica.env.DATA_0.prepare("SELECT 1").first();
    expect(seen).toEqual(["00000000-00000001-00000000-00000000000000000000000000000000", "first-unconstrained"]);
    seen.length = 0;
    await openSessions(recEnv, "first-primary", new Map()).env.DB.prepare("SELECT 1").first();
    expect(seen).toEqual(["first-primary"]);
  });

  it("through the app: a read-only route's request reads from a replica session, every other request from the primary, each opening one session per database", async () => {
    const { token } = await setupTenant("replica-routes");
    const seen: string[] = [];
    const recEnv = {
      ...e,
      DB: new Proxy(e.DB, { get: (t, p) => (p === "withSession" ? (c: string) => (seen.push(c), t.withSession(c)) : Reflect.get(t, p)) }),
    };
    const app = createApp();
    const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
      seen.length = 0;
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`http://ferry.test${path}`, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
          body: body ? JSON.stringify(body) : undefined,
        }),
        recEnv,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, text: await res.text(), bookmark: res.headers.get(BOOKMARK_HEADER) };
    };

    const created = await send("POST", "/api/1/exports", {}, { name: "replica-routes", model: "logins", all_fields: true, schedule: { type: "manual" } });
    expect(created.status, created.text).toBe(201);
    expect(seen).toEqual(["first-primary"]);
    const id = JSON.parse(created.text).id;
    for (const path of ["/api/1/data-exporter/automated", "/api/1/exports", `/api/1/exports/${id}`]) {
      const read = await send("GET", path);
      expect(read.status, read.text).toBe(200);
      expect(seen, path).toEqual(["first-unconstrained"]);
    }
    const own = await send("GET", "/api/1/data-exporter/automated", { [BOOKMARK_HEADER]: created.bookmark ?? "" });
    expect(own.text).toContain("replica-routes");
    expect(seen).toEqual([bookmarkOf(created.bookmark, "DB")]);
    expect(bookmarkOf(own.bookmark, "DB")).toMatch(/^[0-9a-f]{8}-/);
  });

  it("a bookmark ferry did not issue is a 400 in the area's envelope", async () => {
    const { token, apiKey } = await setupTenant("replica-bad");
    const api = await call("GET", "/api/1/exports", { token, headers: { [BOOKMARK_HEADER]: "DB=nope" } });
    expect(api.status).toBe(400);
    expect(api.json.error.code).toBe("bad_request");
    expect(api.json.error.message).toContain(BOOKMARK_HEADER);
    const v1 = await call("POST", "/v1/logins", { token: apiKey, body: { users: [{ user_id: "u" }] }, headers: { [BOOKMARK_HEADER]: "x" } });
    expect(v1.status).toBe(400);
    expect(v1.json.code).toBe(400);
  });
});
