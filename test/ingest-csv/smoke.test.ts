import { describe, expect, it } from "vitest";
import { setupTenant } from "../helpers";
import { storedRows, upload, waitDone } from "./helpers";

describe("smoke", () => {
  it("ingests a small KPI file end to end", async () => {
    const t = await setupTenant("csv-smoke");
    const csv = "timestamp,user_id,register_date,churn_date,kpi_id,value\n2020-03-12 00:00:00,1001,2019-11-18,,transaction_count,3.0\n";
    const r = await upload(t.apiKey, "kpis", csv);
    expect(r.status, r.text).toBe(201);
    const done = await waitDone(t.apiKey, r.json.data.ingestion_id);
    expect(done.json.data, done.text).toMatchObject({ status: "completed", rows_accepted: 1, rows_rejected: 0 });
    const rows = await storedRows(t.tenant.id, "kpis");
    expect(rows).toHaveLength(1);
  });
});
