import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { describe, expect, it } from "vitest";
import { BASE, setupTenant } from "../helpers";
import { e, form, manualEnv, status, storedRows, upload, uploadWith, waitDone } from "./helpers";

const CSV = "user_id,kpi_id,value\n1001,logins,3\n";

describe("CSV ingestion: tenants, auth and limits", () => {
  it("shows an ingestion only to its own tenant; another tenant gets 404", async () => {
    const a = await setupTenant("csv-iso-a");
    const b = await setupTenant("csv-iso-b");
    const r = await upload(a.apiKey, "kpis", CSV);
    expect(r.status).toBe(201);
    const id = r.json.data.ingestion_id;
    expect((await waitDone(a.apiKey, id)).json.data).toMatchObject({ status: "completed", rows_accepted: 1 });
    const other = await status(b.apiKey, id);
    expect(other.status).toBe(404);
    expect(other.json).toEqual({ code: 404, message: `Ingestion ${id} not found`, data: null });
    expect(await storedRows(b.tenant.id, "kpis")).toHaveLength(0);
    expect(await storedRows(a.tenant.id, "kpis")).toHaveLength(1);
  });

  it("requires a valid API key on upload and status", async () => {
    const none = await SELF.fetch(`${BASE}/v1/kpis/csv`, { method: "POST", body: form(CSV) });
    expect(none.status).toBe(401);
    await none.text();
    const bad = await upload("fk_not-a-real-key", "kpis", CSV);
    expect(bad.status).toBe(401);
    expect((await status("fk_not-a-real-key", "ing_x")).status).toBe(401);
  });

  it("answers 404 for an unknown ingestion id", async () => {
    const a = await setupTenant("csv-404");
    expect((await status(a.apiKey, "ing_doesnotexist")).status).toBe(404);
  });

  it("refuses a file over MAX_UPLOAD_BYTES while streaming it, and leaves nothing in R2", async () => {
    const a = await setupTenant("csv-413");
    const d = manualEnv({ MAX_UPLOAD_BYTES: "1000" });
    const big = `user_id,kpi_id,value\n${"1001,logins,3\n".repeat(200)}`;
    const r = await uploadWith(d, a.apiKey, "kpis", big);
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ code: 413, message: "The file is larger than the upload limit of 1000 bytes (MAX_UPLOAD_BYTES)", data: null });
    expect((await e.FILES.list({ prefix: `ingestions/${a.tenant.id}/` })).objects).toHaveLength(0);
    expect(d.sent).toHaveLength(0);
    const ok = await uploadWith(d, a.apiKey, "kpis", CSV);
    expect(ok.status).toBe(201);
  });

  it("refuses at once a declared Content-Length far over the limit", async () => {
    const a = await setupTenant("csv-413-early");
    const d = manualEnv({ MAX_UPLOAD_BYTES: "1000" });
    // serialise the form so the request carries a Content-Length, as an HTTP client sends it
    const encoded = new Response(form(`user_id,kpi_id,value\n${"1001,logins,3\n".repeat(10_000)}`));
    const bytes = await encoded.arrayBuffer();
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}/v1/kpis/csv`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${a.apiKey}`,
          "Content-Type": encoded.headers.get("content-type") ?? "",
          "Content-Length": String(bytes.byteLength),
        },
        body: bytes,
      }),
      d.env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const r = { status: res.status, json: (await res.json()) as { message: string } };
    expect(r.status).toBe(413);
    expect(r.json.message).toBe("The upload is larger than the limit of 1000 bytes (MAX_UPLOAD_BYTES)");
  });

  it("refuses a body that is not multipart/form-data with 415", async () => {
    const a = await setupTenant("csv-415");
    const res = await SELF.fetch(`${BASE}/v1/kpis/csv`, {
      method: "POST",
      headers: { Authorization: `Bearer ${a.apiKey}`, "Content-Type": "text/csv" },
      body: CSV,
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { message: string }).message).toMatch(/multipart\/form-data with the file in the field 'file'/);
  });

  it("refuses a multipart body without the field 'file' with 400", async () => {
    const a = await setupTenant("csv-400");
    const res = await SELF.fetch(`${BASE}/v1/survey-data/csv`, {
      method: "POST",
      headers: { Authorization: `Bearer ${a.apiKey}` },
      body: form(CSV, "data.csv", "upload"),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe("No file in the multipart field 'file' (curl -F file=@data.csv)");
  });

  it("validates the status query", async () => {
    const a = await setupTenant("csv-query");
    const r = await status(a.apiKey, "ing_x", "?errors_limit=0");
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/errors_limit/);
  });
});

describe("CSV ingestion: status paging and docs", () => {
  it("pages per-row errors by line without losing any", async () => {
    const a = await setupTenant("csv-paging");
    const bad = Array.from({ length: 5 }, (_, i) => `,kpi${i},not-a-number`).join("\n");
    const r = await upload(a.apiKey, "kpis", `user_id,kpi_id,value\n${bad}\n`);
    const id = r.json.data.ingestion_id;
    const done = await waitDone(a.apiKey, id);
    expect(done.json.data).toMatchObject({ rows_rejected: 5, rows_accepted: 0 });
    const all: { line: number; field: string }[] = [];
    let after = 0;
    for (let guard = 0; guard < 20; guard++) {
      const page = (await status(a.apiKey, id, `?errors_limit=3&errors_after_line=${after}`)).json.data;
      all.push(...page.errors);
      if (page.errors_next_after_line === null) break;
      after = page.errors_next_after_line;
    }
    // two errors per line (user_id and value), lines 2..6
    expect(all.map((x) => `${x.line}:${x.field}`)).toEqual([2, 3, 4, 5, 6].flatMap((l) => [`${l}:user_id`, `${l}:value`]));
  });

  it("describes the CSV routes in /openapi.json", async () => {
    const res = await SELF.fetch(`${BASE}/openapi.json`);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/kpis/csv"] ?? {})).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/survey-data/csv"] ?? {})).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/ingestions/{id}"] ?? {})).toEqual(["get"]);
  });
});
