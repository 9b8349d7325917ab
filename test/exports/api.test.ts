import { describe, expect, it } from "vitest";
import { enqueueDueRuns } from "../../src/cron/schedules";
import { getExport } from "../../src/definitions";
import { ExportBody, parseStoredDefinition } from "../../src/exports/definition";
import { unsealSecrets } from "../../src/lib/secrets";
import { createServices, fixedClock } from "../../src/services";
import { call, setupTenant } from "../helpers";
import { e } from "./support";

const def = (over: Record<string, unknown> = {}) => ({
  name: "win-info",
  model: "participations",
  fields: [{ from: "user_id", to: "userid", default: "", replace: [{ value: "0", with: "no" }], aggregation: "group" }],
  all_fields: false,
  filters: [[{ field: "has_won", op: "eq", value: "1" }], [{ field: "value", op: "gte", value: 100 }]],
  aggregate: false,
  timezone: "UTC",
  format: { type: "csv", delimiter: ",", enclosure: '"', newline: "\n", header: true },
  compression: "none",
  schedule: { type: "manual" },
  target: { type: "download" },
  ...over,
});

const create = async (token: string, over: Record<string, unknown> = {}) => {
  const r = await call("POST", "/api/1/exports", { token, body: def(over) });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  return r.json;
};

async function addRun(tenantId: string, exportId: string, status: string, bytes: number, createdAt: number) {
  const id = `run_${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;
  await e.DB.prepare(
    "INSERT INTO export_runs (id, tenant_id, export_id, status, definition, rows, bytes, created_at, finished_at) VALUES (?1, ?2, ?3, ?4, '{}', 10, ?5, ?6, ?7)",
  )
    .bind(id, tenantId, exportId, status, bytes, createdAt, status === "finished" ? createdAt + 5 : null)
    .run();
  return id;
}

describe("export definitions: CRUD", () => {
  it("creates with the contract body and reads it back", async () => {
    const { token, tenant, client } = await setupTenant();
    const r = await call("POST", "/api/1/exports", { token, body: def() });
    expect(r.status).toBe(201);
    expect(r.json.id).toMatch(/^exp_[0-9a-z]{20}$/);
    expect(r.json).toMatchObject({
      name: "win-info",
      model: "participations",
      status: "active",
      favourite: false,
      created_by: client.client_id,
      last_run: null,
      fields: def().fields,
      filters: def().filters,
      retention_days: 7,
    });
    const got = await call("GET", `/api/1/exports/${r.json.id}`, { token });
    expect(got.status).toBe(200);
    expect(got.json).toEqual(r.json);
    // The runner / scheduler load the same definition by (tenant, id).
    const rec = await getExport(createServices(e), tenant.id, r.json.id);
    expect(rec?.definition?.filters).toEqual(def().filters);
    expect(await getExport(createServices(e), "ten_other", r.json.id)).toBeNull();
  });

  it("updates only while draft: active is 409 until disabled; enable publishes", async () => {
    const { token } = await setupTenant();
    const x = await create(token);
    const put = await call("PUT", `/api/1/exports/${x.id}`, { token, body: def({ timezone: "Europe/Paris" }) });
    expect(put.status).toBe(409);
    expect(put.json.error.code).toBe("conflict");
    expect(put.json.error.message).toMatch(/only drafts can be edited.*disable/i);
    expect((await call("PATCH", `/api/1/exports/${x.id}`, { token, body: { timezone: "Europe/Paris" } })).status).toBe(409);

    const dis = await call("POST", `/api/1/exports/${x.id}/disable`, { token });
    expect(dis.json.status).toBe("disabled");
    const patched = await call("PATCH", `/api/1/exports/${x.id}`, { token, body: { timezone: "Europe/Paris", name: "renamed" } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ timezone: "Europe/Paris", name: "renamed", status: "disabled", model: "participations" });
    const en = await call("POST", `/api/1/exports/${x.id}/enable`, { token });
    expect(en.json.status).toBe("active");
    expect((await call("PATCH", `/api/1/exports/${x.id}`, { token, body: { timezone: "UTC" } })).status).toBe(409);

    const draft = await create(token, { name: "d", status: "draft" });
    expect(draft.status).toBe("draft");
    const upd = await call("PUT", `/api/1/exports/${draft.id}`, { token, body: def({ name: "d", status: "draft", compression: "gzip" }) });
    expect(upd.status).toBe(200);
    expect(upd.json).toMatchObject({ compression: "gzip", status: "draft" });
    // A body without status keeps the draft a draft.
    const noStatus = def({ name: "d", compression: "zip" });
    const upd2 = await call("PUT", `/api/1/exports/${draft.id}`, { token, body: noStatus });
    expect(upd2.json).toMatchObject({ compression: "zip", status: "draft" });
    const pub = await call("PATCH", `/api/1/exports/${draft.id}`, { token, body: { status: "active" } });
    expect(pub.json.status).toBe("active");
  });

  it("clone makes a draft copy with a free name; favourite; delete", async () => {
    const { token } = await setupTenant();
    const x = await create(token);
    const c1 = await call("POST", `/api/1/exports/${x.id}/clone`, { token });
    expect(c1.status).toBe(201);
    expect(c1.json).toMatchObject({ name: "win-info-copy", status: "draft", filters: x.filters, fields: x.fields, model: x.model });
    expect(c1.json.id).not.toBe(x.id);
    const c2 = await call("POST", `/api/1/exports/${x.id}/clone`, { token });
    expect(c2.json.name).toBe("win-info-copy-2");
    const c3 = await call("POST", `/api/1/exports/${x.id}/clone`, { token, body: { name: "mine" } });
    expect(c3.json.name).toBe("mine");
    expect((await call("POST", `/api/1/exports/${x.id}/clone`, { token, body: { name: "mine" } })).status).toBe(409);

    const fav = await call("PUT", `/api/1/exports/${x.id}/favourite`, { token });
    expect(fav.json.favourite).toBe(true);
    const unfav = await call("DELETE", `/api/1/exports/${x.id}/favourite`, { token });
    expect(unfav.json.favourite).toBe(false);

    expect((await call("DELETE", `/api/1/exports/${x.id}`, { token })).status).toBe(204);
    expect((await call("GET", `/api/1/exports/${x.id}`, { token })).status).toBe(404);
    expect((await call("DELETE", `/api/1/exports/${x.id}`, { token })).status).toBe(404);
    // The name is free again.
    expect((await call("POST", "/api/1/exports", { token, body: def() })).status).toBe(201);
  });

  it("a duplicate name is a 409", async () => {
    const { token } = await setupTenant();
    await create(token);
    const r = await call("POST", "/api/1/exports", { token, body: def() });
    expect(r.status).toBe(409);
    expect(r.json.error.message).toMatch(/already exists/);
  });
});

describe("export definitions: validation", () => {
  const bad = async (over: Record<string, unknown>) => {
    const { token } = await setupTenant();
    const r = await call("POST", "/api/1/exports", { token, body: def(over) });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("validation_failed");
    expect(r.json.error.request_id).toBeTruthy();
    return r.json.error.details as { path: string; message: string }[];
  };

  it("names the offending part", async () => {
    expect(await bad({ model: "nope" })).toEqual([{ path: "model", message: expect.stringMatching(/unknown model 'nope'/) }]);
    expect((await bad({ fields: [{ from: "userid" }] }))[0]).toMatchObject({ path: "fields.0.from", message: expect.stringMatching(/unknown field 'userid'/) });
    expect((await bad({ filters: [[{ field: "has_won", op: "contains", value: "1" }]] }))[0]).toMatchObject({
      path: "filters.0.0.op",
      message: expect.stringMatching(/'contains' is not valid for boolean field 'has_won'/),
    });
    expect(
      (await bad({ aggregate: true, fields: [{ from: "value", aggregation: "sum" }] })).find((d) => d.path === "fields")?.message,
    ).toMatch(/at least one field with aggregation 'group'/);
    expect((await bad({ aggregate: true, all_fields: true })).map((d) => d.path)).toContain("all_fields");
    expect((await bad({ filters: [[{ field: "participation_date", op: "gte", value: "date:last tuesday" }]] }))[0]).toMatchObject({
      path: "filters.0.0.value",
      message: expect.stringMatching(/malformed date expression/),
    });
    expect((await bad({ timezone: "Europe/Atlantis" }))[0]).toMatchObject({ path: "timezone", message: expect.stringMatching(/unknown time zone/) });
    // Shape errors (zod) use the same envelope.
    expect((await bad({ filters: [[{ field: "value", op: "like", value: 1 }]] }))[0]?.path).toBe("filters.0.0.op");
    expect((await bad({ name: "has space" }))[0]?.path).toBe("name");
  });

  it("PATCH results are validated as a whole", async () => {
    const { token } = await setupTenant();
    const x = await create(token, { status: "draft" });
    const r = await call("PATCH", `/api/1/exports/${x.id}`, { token, body: { model: "logins" } });
    expect(r.status).toBe(400);
    // participations' has_won / value are unknown in logins.
    expect(r.json.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(["filters.0.0.field", "filters.1.0.field"]),
    );
  });
});

describe("export definitions: security and isolation", () => {
  it("the model catalog lists the operators and aggregations of each field", async () => {
    const { token } = await setupTenant();
    const m = await call("GET", "/api/1/models/logins", { token });
    const level = m.json.fields.find((f: { name: string }) => f.name === "level");
    expect(level.operators).toEqual(expect.arrayContaining(["between", "gt", "in"]));
    expect(level.operators).not.toContain("contains");
    expect(level.aggregations).toContain("sum");
    const device = m.json.fields.find((f: { name: string }) => f.name === "device");
    expect(device.operators).toContain("starts_with");
    expect(device.aggregations).not.toContain("sum");
  });

  it("every route is in the OpenAPI document", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    for (const p of ["/api/1/exports", "/api/1/exports/{id}", "/api/1/exports/{id}/clone", "/api/1/exports/{id}/favourite", "/api/1/exports/{id}/disable"]) {
      expect(doc.paths[p], p).toBeTruthy();
    }
    expect(Object.keys(doc.paths["/api/1/exports/{id}"]).sort()).toEqual(["delete", "get", "patch", "put"]);
  });


  it("needs a token with exports-manage", async () => {
    const noPerm = await setupTenant("p", ["automated-exports-view"]);
    const r = await call("GET", "/api/1/exports", { token: noPerm.token });
    expect(r.status).toBe(403);
    expect((await call("POST", "/api/1/exports", { body: def() })).status).toBe(401);
  });

  it("another tenant's export is a 404 for every verb and never listed", async () => {
    const a = await setupTenant("a");
    const b = await setupTenant("b");
    const x = await create(a.token, { status: "draft" });
    const id = x.id;
    const attempts: [string, string, unknown?][] = [
      ["GET", `/api/1/exports/${id}`],
      ["PUT", `/api/1/exports/${id}`, def()],
      ["PATCH", `/api/1/exports/${id}`, { timezone: "UTC" }],
      ["DELETE", `/api/1/exports/${id}`],
      ["POST", `/api/1/exports/${id}/clone`],
      ["PUT", `/api/1/exports/${id}/favourite`],
      ["DELETE", `/api/1/exports/${id}/favourite`],
      ["POST", `/api/1/exports/${id}/enable`],
      ["POST", `/api/1/exports/${id}/disable`],
    ];
    for (const [method, path, body] of attempts) {
      const r = await call(method, path, { token: b.token, ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.json.error.code).toBe("not_found");
    }
    const list = await call("GET", "/api/1/exports", { token: b.token });
    expect(list.json.total).toBe(0);
    // Untouched for its owner, and the same name is free in the other tenant.
    expect((await call("GET", `/api/1/exports/${id}`, { token: a.token })).json).toEqual(x);
    expect((await call("POST", "/api/1/exports", { token: b.token, body: def() })).status).toBe(201);
  });
});

describe("export definitions: list", () => {
  it("search, sort, pagination, categories and the last run's file size", async () => {
    const { token, tenant } = await setupTenant();
    const names = ["beta", "Alpha", "gamma_1", "gamma-2", "delta", "epsilon"];
    const ids: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      const x = await create(token, {
        name,
        ...(name === "delta" ? { status: "draft" } : {}),
        ...(name === "epsilon" ? { schedule: { type: "daily", time: "06:00" } } : {}),
      });
      ids[name] = x.id;
      await e.DB.prepare("UPDATE exports SET created_at = ?1 WHERE id = ?2").bind(1_000 + i, x.id).run();
    }
    await addRun(tenant.id, ids.beta ?? "", "failed", 0, 2_000);
    await addRun(tenant.id, ids.beta ?? "", "finished", 4096, 2_100);
    await addRun(tenant.id, ids.Alpha ?? "", "processing", 100, 2_200);
    await call("PUT", `/api/1/exports/${ids.gamma_1}/favourite`, { token });

    const list = async (qs: string) => {
      const r = await call("GET", `/api/1/exports${qs}`, { token });
      expect(r.status, r.text).toBe(200);
      return r.json as { exports: Record<string, unknown>[]; total: number };
    };
    const all = await list("");
    expect(all.total).toBe(6);
    expect(all.exports.map((x) => x.name)).toEqual([...names].reverse());
    const beta = all.exports.find((x) => x.name === "beta");
    expect(beta).toMatchObject({ model: "participations", target: "download", status: "active", file_size: 4096, created_at: 1000 });
    expect(beta?.last_run).toMatchObject({ status: "finished", bytes: 4096, rows: 10 });
    expect(all.exports.find((x) => x.name === "gamma_1")).toMatchObject({ file_size: null, last_run: null, favourite: true });

    expect((await list("?sort=name")).exports.map((x) => x.name)).toEqual(["Alpha", "beta", "delta", "epsilon", "gamma-2", "gamma_1"]);
    expect((await list("?sort=name&order=desc")).exports.map((x) => x.name)).toEqual(["gamma_1", "gamma-2", "epsilon", "delta", "beta", "Alpha"]);
    expect((await list("?sort=created_at&order=asc")).exports.map((x) => x.name)).toEqual(names);

    // Search: wildcards are literal, ASCII case-insensitive.
    expect((await list("?q=GAMMA")).exports.map((x) => x.name).sort()).toEqual(["gamma-2", "gamma_1"]);
    expect((await list("?q=%25")).total).toBe(0);
    expect((await list("?q=_")).exports.map((x) => x.name)).toEqual(["gamma_1"]);
    expect((await list("?q=' OR 1=1 --")).total).toBe(0);

    const p1 = await list("?sort=name&per_page=4&page=1");
    const p2 = await list("?sort=name&per_page=4&page=2");
    expect(p1.total).toBe(6);
    expect(p1.exports).toHaveLength(4);
    expect(p2.exports.map((x) => x.name)).toEqual(["gamma-2", "gamma_1"]);

    const cat = async (c: string) => (await list(`?category=${c}&sort=name`)).exports.map((x) => x.name);
    expect(await cat("in_progress")).toEqual(["Alpha"]);
    expect(await cat("closed")).toEqual(["beta"]);
    expect(await cat("draft")).toEqual(["delta"]);
    expect(await cat("scheduled")).toEqual(["epsilon"]);
    expect(await cat("favourites")).toEqual(["gamma_1"]);
    await call("POST", `/api/1/exports/${ids.epsilon}/disable`, { token });
    expect(await cat("scheduled")).toEqual([]);
    expect(await cat("draft")).toEqual(["delta", "epsilon"]);

    const badQ = await call("GET", "/api/1/exports?category=nope&per_page=1000", { token });
    expect(badQ.status).toBe(400);
    expect(badQ.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["category", "per_page"]);
  });
});

describe("export definitions: a target's secret fields", () => {
  // The SAS token's own check (sig=) applies to what a client sends, never to the sealed value
  // or the mask: the definition is read again after sealing (the scheduler, clone, PATCH, PUT).
  const sas = "sv=2022-11-02&ss=b&srt=co&sp=cw&se=2030-01-01T00:00:00Z&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D";
  const azure = (over: Record<string, unknown> = {}) => ({
    type: "azure",
    endpoint: "https://ferrytest.blob.core.windows.net",
    container: "exports",
    sas_token: sas,
    blob: "{export}/{date}/{name}",
    block_size_mb: 8,
    ...over,
  });
  const stored = async (id: string) =>
    (await e.DB.prepare("SELECT definition, next_run_at, schedule_error FROM exports WHERE id = ?1").bind(id).first<{
      definition: string;
      next_run_at: number | null;
      schedule_error: string | null;
    }>())!;

  it("an Azure export answers 201, is scheduled, shows the SAS token masked, keeps it on PUT '****' and round-trips", async () => {
    const { token, tenant } = await setupTenant("azure-def");
    const body = def({ name: "to-azure", target: azure(), schedule: { type: "daily", time: "06:00" } });
    const created = await call("POST", "/api/1/exports", { token, body });
    expect(created.status, created.text).toBe(201);
    expect(created.json.target).toEqual(azure({ sas_token: "****" }));
    expect(created.text).not.toContain("sig=");
    expect(created.json.next_run_at).toEqual(expect.any(Number));
    expect(new Date(created.json.next_run_at * 1000).toISOString().slice(11, 16)).toBe("06:00");
    const got = await call("GET", `/api/1/exports/${created.json.id}`, { token });
    expect(got.json).toEqual(created.json);

    // Sealed at rest; the scheduler reads the stored definition and makes the slot's run.
    const row = await stored(created.json.id);
    expect(row.definition).not.toContain("sig=");
    expect(row.next_run_at).toBe(created.json.next_run_at);
    const sealed = (parseStoredDefinition(row.definition).target as { sas_token: string }).sas_token;
    expect(sealed).toMatch(/^v1\./);
    const sent: unknown[] = [];
    const slot = row.next_run_at!;
    await enqueueDueRuns(createServices(e, { clock: fixedClock((slot + 5) * 1000), jobs: { send: async (m) => void sent.push(m) } }));
    const after = await stored(created.json.id);
    expect(after.schedule_error).toBeNull();
    expect(after.next_run_at).toBe(slot + 86_400);
    const runs = await e.DB.prepare("SELECT scheduled_for FROM export_runs WHERE export_id = ?1").bind(created.json.id).all<{ scheduled_for: number }>();
    expect(runs.results.map((r) => r.scheduled_for)).toEqual([slot]);

    // Edited as a client would: read it, disable, send it back with the mask, publish.
    expect((await call("POST", `/api/1/exports/${created.json.id}/disable`, { token })).status).toBe(200);
    const { id: _id, status: _s, favourite: _f, created_by: _cb, created_at: _ca, updated_at: _ua, next_run_at: _n, schedule_error: _se, last_run: _lr, ...read } = got.json;
    const put = await call("PUT", `/api/1/exports/${created.json.id}`, { token, body: { ...read, retention_days: 9, status: "active" } });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ status: "active", retention_days: 9, target: azure({ sas_token: "****" }) });
    expect(put.json.next_run_at).toEqual(expect.any(Number));
    const kept = parseStoredDefinition((await stored(created.json.id)).definition);
    expect((kept.target as { sas_token: string }).sas_token).toBe(sealed);
    // The definition round-trips: what GET shows is what was sent, and the drivers get the real token.
    const again = await call("GET", `/api/1/exports/${created.json.id}`, { token });
    const { id: _i2, status: _s2, favourite: _f2, created_by: _c2, created_at: _a2, updated_at: _u2, next_run_at: _n2, schedule_error: _e2, last_run: _l2, ...shown } = again.json;
    expect(shown).toEqual({ ...read, retention_days: 9 });
    const rec = await getExport(createServices(e), tenant.id, created.json.id);
    expect(await unsealSecrets(createServices(e).secrets, ExportBody, rec!.definition)).toMatchObject({ target: azure() });

    // Clone and PATCH read the sealed definition again: both work.
    const clone = await call("POST", `/api/1/exports/${created.json.id}/clone`, { token });
    expect(clone.status, clone.text).toBe(201);
    expect(clone.json.target).toEqual(azure({ sas_token: "****" }));
    const patched = await call("PATCH", `/api/1/exports/${clone.json.id}`, { token, body: { retention_days: 3 } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.target.sas_token).toBe("****");

    // The token's own check still applies to what a client sends.
    const bad = await call("POST", "/api/1/exports", { token, body: def({ name: "bad-sas", target: azure({ sas_token: "sv=1&sp=w" }) }) });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0]).toMatchObject({ path: "target.sas_token", message: expect.stringMatching(/sig=/) });
  });
});
