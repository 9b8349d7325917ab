import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { newId } from "../../src/lib/ids";
import { BASE, call, createClient, getToken, setupTenant } from "../helpers";

const e = env as unknown as Env;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;

async function createExport(token: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call("POST", "/api/1/exports", { token, body: { name, model: "logins", all_fields: true, schedule: { type: "manual" }, ...extra } });
  expect(r.status, r.text).toBe(201);
  return r.json.id;
}

/** A finished run with its file in R2, as the run chain leaves it (the chain is tested in test/exports-run). */
async function finishedRun(tenantId: string, exportId: string, opts: { createdAt: number; expiresAt: number; content?: string; status?: string }) {
  const id = newId("run");
  const key = `test-automated/${id}.json`;
  await e.FILES.put(key, opts.content ?? `{"r":"${id}"}`);
  await e.DB.prepare(
    `INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, rows, bytes, created_at, finished_at, expires_at,
       file_key, file_name, content_type)
     VALUES (?1, ?2, ?3, ?4, 'schedule', '{}', 1, 10, ?5, ?5, ?6, ?7, 'win-info.json', 'application/json')`,
  )
    .bind(id, tenantId, exportId, opts.status ?? "finished", opts.createdAt, opts.expiresAt, key)
    .run();
  return id;
}

describe("automated exports API", () => {
  it("lists active exports with their newest result, pages results, and fetches a URL that works without the token", async () => {
    const { tenant, token } = await setupTenant("automated-flow");
    const now = Math.floor(Date.now() / 1000);
    const exp = await createExport(token, "win-info");
    await createExport(token, "no-results-yet");
    await createExport(token, "a-draft", { status: "draft" });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await finishedRun(tenant.id, exp, { createdAt: now - 1000 + i, expiresAt: now + 86_400, content: `file ${i}` }));
    await finishedRun(tenant.id, exp, { createdAt: now, expiresAt: now + 86_400, status: "failed" }); // not a result

    const list = await call("GET", "/api/1/data-exporter/automated", { token });
    expect(list.status).toBe(200);
    expect(Array.isArray(list.json)).toBe(true);
    expect(list.json.map((x: { system_name: string }) => x.system_name)).toEqual(["no-results-yet", "win-info"]);
    const item = list.json.find((x: { system_name: string }) => x.system_name === "win-info");
    expect(item.id).toBe(exp);
    expect(item.last_run.id).toBe(ids[11]);
    expect(item.last_run.created_at).toMatch(ISO);
    expect(item.last_run.expires_at).toMatch(ISO);
    expect(list.json.find((x: { system_name: string }) => x.system_name === "no-results-yet").last_run).toBeNull();

    const page1 = await call("GET", "/api/1/data-exporter/automated/win-info/results?page=1&perPage=5", { token });
    expect(page1.status).toBe(200);
    expect(page1.json.total).toBe(12);
    expect(page1.json.results.map((r: { id: string }) => r.id)).toEqual(ids.slice(7).reverse());
    expect(Object.keys(page1.json.results[0]).sort()).toEqual(["created_at", "expires_at", "id"]);
    const page3 = await call("GET", "/api/1/data-exporter/automated/win-info/results?page=3&perPage=5", { token });
    expect(page3.json.results.map((r: { id: string }) => r.id)).toEqual(ids.slice(0, 2).reverse());
    const beyond = await call("GET", "/api/1/data-exporter/automated/win-info/results?page=9&perPage=5", { token });
    expect(beyond.json).toEqual({ results: [], total: 12 });

    const fetched = await call("GET", `/api/1/data-exporter/automated/fetch/${ids[3]}`, { token });
    expect(fetched.status).toBe(200);
    expect(fetched.json.result.id).toBe(ids[3]);
    const url = new URL(fetched.json.result.download_url);
    const dl = await SELF.fetch(`${BASE}${url.pathname}${url.search}`); // no token
    expect(dl.status).toBe(200);
    expect(await dl.text()).toBe("file 3");
  });

  it("each call reads with its own tenant, id and time: a new result shows on the next list and fetch, another tenant's is a 404 (the statements are built once per isolate, src/db/prepared.ts)", async () => {
    const a = await setupTenant("automated-fresh-a");
    const b = await setupTenant("automated-fresh-b");
    const now = Math.floor(Date.now() / 1000);
    const expA = await createExport(a.token, "fresh");
    const expB = await createExport(b.token, "fresh");
    const first = await finishedRun(a.tenant.id, expA, { createdAt: now - 10, expiresAt: now + 86_400 });
    const lastOf = async (token: string) => (await call("GET", "/api/1/data-exporter/automated", { token })).json[0].last_run?.id ?? null;
    expect(await lastOf(a.token)).toBe(first);
    expect(await lastOf(b.token)).toBeNull();
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${first}`, { token: a.token })).status).toBe(200);

    const second = await finishedRun(a.tenant.id, expA, { createdAt: now - 5, expiresAt: now + 86_400 });
    expect(await lastOf(a.token)).toBe(second);
    const fetched = await call("GET", `/api/1/data-exporter/automated/fetch/${second}`, { token: a.token });
    expect(fetched.status, fetched.text).toBe(200);
    expect(fetched.json.result.id).toBe(second);
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${second}`, { token: b.token })).status).toBe(404);

    // a result whose expiry has passed by the time of the call is not listed
    const ofB = await finishedRun(b.tenant.id, expB, { createdAt: now - 10, expiresAt: now - 1 });
    expect(await lastOf(b.token)).toBeNull();
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${ofB}`, { token: b.token })).status).toBe(410);
  });

  it("an expired result answers 410 with a clear message, not a broken link", async () => {
    const { tenant, token } = await setupTenant("automated-expired");
    const now = Math.floor(Date.now() / 1000);
    const exp = await createExport(token, "old-results");
    const old = await finishedRun(tenant.id, exp, { createdAt: now - 10 * 86_400, expiresAt: now - 86_400 });
    const r = await call("GET", `/api/1/data-exporter/automated/fetch/${old}`, { token });
    expect(r.status).toBe(410);
    expect(r.json.error.code).toBe("gone");
    expect(r.json.error.message).toMatch(/expired at \d{4}-\d{2}-\d{2}T.*newer result/);
    // Deleted by retention (expired_at set) is just as gone.
    const deleted = await finishedRun(tenant.id, exp, { createdAt: now - 5, expiresAt: now + 1000 });
    await e.DB.prepare("UPDATE export_runs SET expired_at = ?1 WHERE id = ?2").bind(now, deleted).run();
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${deleted}`, { token })).status).toBe(410);
    // ... and neither is listed as a result.
    expect((await call("GET", "/api/1/data-exporter/automated/old-results/results", { token })).json).toEqual({ results: [], total: 0 });
  });

  it("validates paging, needs automated-exports-view, and never shows another tenant's exports", async () => {
    const a = await setupTenant("automated-a");
    const b = await setupTenant("automated-b");
    const now = Math.floor(Date.now() / 1000);
    const exp = await createExport(a.token, "tenant-a-export");
    const run = await finishedRun(a.tenant.id, exp, { createdAt: now, expiresAt: now + 1000 });

    const bad = await call("GET", "/api/1/data-exporter/automated/tenant-a-export/results?page=0&perPage=1000", { token: a.token });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("validation_failed");

    expect((await call("GET", "/api/1/data-exporter/automated", { token: b.token })).json).toEqual([]);
    expect((await call("GET", "/api/1/data-exporter/automated/tenant-a-export/results", { token: b.token })).status).toBe(404);
    expect((await call("GET", `/api/1/data-exporter/automated/fetch/${run}`, { token: b.token })).status).toBe(404);
    expect((await call("GET", "/api/1/data-exporter/automated/unknown/results", { token: a.token })).status).toBe(404);

    const ingestOnly = await getToken(await createClient(a.tenant.id, ["ingest"]));
    const forbidden = await call("GET", "/api/1/data-exporter/automated", { token: ingestOnly });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error.message).toMatch(/automated-exports-view/);
    expect((await call("GET", "/api/1/data-exporter/automated")).status).toBe(401);
  });
});
