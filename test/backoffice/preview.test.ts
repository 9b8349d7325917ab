import { describe, expect, it } from "vitest";
import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import { call, setupTenant } from "../helpers";
import { invite, signInAs } from "./helpers";

const e = env as unknown as Env;

async function shardOf(tenantId: string): Promise<D1Database> {
  const t = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  return (e as unknown as Record<string, D1Database>)[`DATA_${t?.shard}`] as D1Database;
}

/** `n` actions on the tenant's shard, one a minute from 2026-01-01, every third one a login. */
async function seedActions(tenantId: string, n: number) {
  const db = await shardOf(tenantId);
  await db
    .prepare(
      `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?2)
       INSERT INTO actions (tenant_id, ingested_at, timestamp, user_id, action_id, action_name)
       SELECT ?1, 1700000000, strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || n || ' minutes'), 'u,' || n, 'a' || n,
              CASE WHEN n % 3 = 0 THEN 'login' ELSE 'buy "x"' END FROM s`,
    )
    .bind(tenantId, n)
    .run();
}

const definition = {
  name: "preview-me",
  model: "actions",
  fields: [{ from: "timestamp", to: "when" }, { from: "user_id" }, { from: "action_name", to: "what", replace: [{ value: "login", with: "signed in" }] }],
  filters: [[{ field: "timestamp", op: "gte", value: "2026-01-01 00:10:00" }]],
  format: { type: "csv" },
};

describe("POST /api/1/exports/preview", () => {
  it("answers the first 20 rows as the CSV file holds them and the row count, saving nothing", async () => {
    const t = await setupTenant("preview");
    await seedActions(t.tenant.id, 40);
    const r = await call("POST", "/api/1/exports/preview", { token: t.token, body: definition });
    expect(r.status).toBe(200);
    expect(r.json.columns).toEqual(["when", "user_id", "what"]);
    expect(r.json.row_count).toBe(31); // minutes 10..40
    expect(r.json.rows).toHaveLength(20);
    expect(r.json.rows[0]).toEqual({ when: "2026-01-01 00:10:00", user_id: "u,10", what: 'buy "x"' });
    expect(r.json.rows[2]).toEqual({ when: "2026-01-01 00:12:00", user_id: "u,12", what: "signed in" });
    const lines = r.json.text.split("\n");
    expect(lines[0]).toBe("when,user_id,what");
    expect(lines[1]).toBe('2026-01-01 00:10:00,"u,10","buy ""x"""');
    expect(lines[3]).toBe('2026-01-01 00:12:00,"u,12",signed in');
    expect(lines).toHaveLength(22); // header, 20 rows, and the final newline
    expect(r.json.content_type).toContain("text/csv");
    expect((await call("GET", "/api/1/exports", { token: t.token })).json.total).toBe(0);
    const doc = await call("GET", "/openapi.json");
    expect(doc.json.paths["/api/1/exports/preview"].post.summary).toContain("first 20 rows");
  });

  it("reads only the caller's tenant, names the offending part, and needs exports-manage", async () => {
    const a = await setupTenant("preview-a");
    await seedActions(a.tenant.id, 5);
    const b = await setupTenant("preview-b");
    const r = await call("POST", "/api/1/exports/preview", { token: b.token, body: { ...definition, filters: [] } });
    expect(r.json.row_count).toBe(0);
    expect(r.json.rows).toEqual([]);

    const bad = await call("POST", "/api/1/exports/preview", {
      token: a.token,
      body: { ...definition, filters: [[{ field: "timestamp", op: "gte", value: "date:yesterday and a bit" }]] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("filters.0.0.value");

    const ingestOnly = await setupTenant("preview-c", ["ingest"]);
    expect((await call("POST", "/api/1/exports/preview", { token: ingestOnly.token, body: definition })).status).toBe(403);
    expect((await call("POST", "/api/1/exports/preview", { body: definition })).status).toBe(401);
  });

  it("the wizard's preview is the same service, for the signed-in person's tenant", async () => {
    const t = await setupTenant("preview-page");
    await seedActions(t.tenant.id, 12);
    const u = await invite(t.tenant.id, "p@preview-page.example", "editor");
    const s = await signInAs(u.email, u.password);
    const page = await s.json("POST", "/app/exports/preview", definition);
    const api = await call("POST", "/api/1/exports/preview", { token: t.token, body: definition });
    expect(page.status).toBe(200);
    expect(page.json).toEqual(api.json);
  });
});
