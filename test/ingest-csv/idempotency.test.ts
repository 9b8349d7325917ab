import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, setupTenant } from "../helpers";
import { e, form, storedRows, waitDone } from "./helpers";

const CSV = "user_id,kpi_id,value\n1001,logins,3\n1002,logins,4\n";

async function post(apiKey: string, body: string, key?: string) {
  const res = await SELF.fetch(`${BASE}/v1/kpis/csv`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, ...(key ? { "Idempotency-Key": key } : {}) },
    body: form(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

describe("CSV upload with Idempotency-Key", () => {
  it("answers a replay of the same file with the first response and ingests it once", async () => {
    const t = await setupTenant("csv-idem");
    const first = await post(t.apiKey, CSV, "upload-1");
    expect(first.status).toBe(201);
    await waitDone(t.apiKey, first.json.data.ingestion_id);
    const again = await post(t.apiKey, CSV, "upload-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await storedRows(t.tenant.id, "kpis")).toHaveLength(2);
    const staged = await e.FILES.list({ prefix: `ingestions/${t.tenant.id}/` });
    expect(staged.objects, "the replayed upload is not kept").toHaveLength(0);
  });

  it("refuses the same key with another file (422) and accepts a new key", async () => {
    const t = await setupTenant("csv-idem-2");
    expect((await post(t.apiKey, CSV, "upload-2")).status).toBe(201);
    const other = await post(t.apiKey, `${CSV}1003,logins,5\n`, "upload-2");
    expect(other.status).toBe(422);
    expect(other.json.message).toMatch(/already used for a different request/);
    expect((await post(t.apiKey, `${CSV}1003,logins,5\n`, "upload-3")).status).toBe(201);
  });

  it("does not keep the key of a refused upload, so the corrected file can use it", async () => {
    const t = await setupTenant("csv-idem-3");
    const bad = await post(t.apiKey, "user_id,colour\n1,red\n", "upload-4");
    expect(bad.status).toBe(422);
    expect(bad.json.message).toMatch(/colour/);
    expect((await post(t.apiKey, CSV, "upload-4")).status).toBe(201);
  });
});
