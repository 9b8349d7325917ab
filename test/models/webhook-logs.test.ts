import { describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import { chainJobs } from "../../src/jobs";
import { createRun } from "../../src/runs";
import { createServices } from "../../src/services";
import { call, setupTenant, waitFor } from "../helpers";
import { countRows } from "../ingest/util";
import { e, servers, unique } from "../targets/helpers";
import { exportAndRead } from "./helpers";

const SECRET = "whsec-0123456789abcdef";

async function hooks(name: string): Promise<{ headers: Record<string, string>; body: string }[]> {
  return (await fetch(`${servers().control}/webhooks?name=${name}`)).json();
}

describe("webhook logs", () => {
  it("a delivered run notification is logged on the tenant's shard and exports as webhook_logs", async () => {
    const t = await setupTenant("wl-delivered");
    const other = await setupTenant("wl-other");
    const hook = unique("hook");
    const url = `${servers().control}/webhooks/${hook}`;
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "notified", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: url, secret: SECRET } },
    });
    expect(created.status, created.text).toBe(201);
    const run = await call("POST", `/api/1/exports/${created.json.id}/runs`, { token: t.token });
    await waitFor(async () => ((await hooks(hook)).length ? true : undefined), "the webhook");
    await waitFor(async () => ((await countRows(t.tenant.id, "webhook_logs")) ? true : undefined), "the webhook log row");

    const csv = await exportAndRead(t.token, {
      name: "hook-log",
      model: "webhook_logs",
      fields: [{ from: "event_id" }, { from: "event_type" }, { from: "url" }, { from: "attempt" }, { from: "outcome" }, { from: "response_status" }, { from: "error" }],
    });
    expect(csv).toBe(`event_id,event_type,url,attempt,outcome,response_status,error\n${run.json.id}.export.run.finished,export.run.finished,${url},1,delivered,200,\n`);
    expect(await countRows(other.tenant.id, "webhook_logs")).toBe(0);
  });

  it("a receiver that refuses the event (4xx) is logged as failed with its status and the reason", async () => {
    const t = await setupTenant("wl-refused");
    const url = `${servers().control}/no-such-receiver`;
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "refused-hook", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: url, secret: SECRET } },
    });
    expect(created.status, created.text).toBe(201);
    const sent: ChainMessage[] = [];
    const s = createServices(e, { jobs: { send: async (m) => void sent.push(m as ChainMessage) } });
    const run = await createRun(s, { tenantId: t.tenant.id, exportId: created.json.id, trigger: "manual" });
    for (let m = sent.shift(); m; m = sent.shift()) await handleChainMessage(s, chainJobs, m);
    const text = await exportAndRead(t.token, {
      name: "failed-hooks",
      model: "webhook_logs",
      format: { type: "ndjson" },
      fields: [{ from: "event_id" }, { from: "attempt" }, { from: "outcome" }, { from: "response_status" }, { from: "error" }],
      filters: [[{ field: "outcome", op: "eq", value: "failed" }]],
    });
    expect(text.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { event_id: `${run.id}.export.run.finished`, attempt: 1, outcome: "failed", response_status: 404, error: `webhook ${url} answered 404` },
    ]);
  });
});
