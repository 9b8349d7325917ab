import { describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import { chainJobs } from "../../src/jobs";
import { createRun } from "../../src/runs";
import { createServices } from "../../src/services";
import { call, setupTenant, waitFor } from "../helpers";
import { countRows } from "../ingest/util";
import { e, servers, unique } from "../targets/helpers";
import { exportAndRead } from "./helpers";

/** An export of logins whose runs notify `url`. */
async function notifiedExport(token: string, name: string, url: string): Promise<string> {
  const created = await call("POST", "/api/1/exports", {
    token,
    body: { name, model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: url, secret: "whsec-0123456789abcdef" } },
  });
  expect(created.status, created.text).toBe(201);
  return created.json.id;
}

/**
 * Runs the export with a queue the test delivers by hand, every message at once (a retry's
 * backoff is the queue's delay), until the run and its webhook chain end; answers the event id.
 */
async function runByHand(tenantId: string, exportId: string): Promise<string> {
  const sent: ChainMessage[] = [];
  const s = createServices(e, { jobs: { send: async (m) => void sent.push(m as ChainMessage) } });
  const run = await createRun(s, { tenantId, exportId, trigger: "manual" });
  for (let m = sent.shift(); m; m = sent.shift()) await handleChainMessage(s, chainJobs, m);
  return `${run.id}.export.run.finished`;
}

describe("webhook logs", () => {
  it("a delivered run notification is logged on the tenant's shard and exports as webhook_logs", async () => {
    const t = await setupTenant("wl-delivered");
    const other = await setupTenant("wl-other");
    const url = `${servers().control}/webhooks/${unique("hook")}`;
    const exportId = await notifiedExport(t.token, "notified", url);
    // through the real queue
    const run = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
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
    const eventId = await runByHand(t.tenant.id, await notifiedExport(t.token, "refused-hook", url));
    const text = await exportAndRead(t.token, {
      name: "failed-hooks",
      model: "webhook_logs",
      format: { type: "ndjson" },
      fields: [{ from: "event_id" }, { from: "attempt" }, { from: "outcome" }, { from: "response_status" }, { from: "error" }],
      filters: [[{ field: "outcome", op: "eq", value: "failed" }]],
    });
    expect(text.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { event_id: eventId, attempt: 1, outcome: "failed", response_status: 404, error: `webhook ${url} answered 404` },
    ]);
  });

  it("a receiver that does not answer is logged as retrying on each attempt, then failed on the last", async () => {
    const t = await setupTenant("wl-unreachable");
    // nothing listens on the discard port of the loopback address: every attempt is refused
    const eventId = await runByHand(t.tenant.id, await notifiedExport(t.token, "unreachable-hook", "http://127.0.0.1:9/hook"));
    const text = await exportAndRead(t.token, {
      name: "attempts",
      model: "webhook_logs",
      format: { type: "ndjson" },
      fields: [{ from: "event_id" }, { from: "attempt" }, { from: "outcome" }, { from: "response_status" }],
    });
    expect(text.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      ...[1, 2, 3, 4].map((attempt) => ({ event_id: eventId, attempt, outcome: "retrying", response_status: null })),
      { event_id: eventId, attempt: 5, outcome: "failed", response_status: null },
    ]);
    expect(await countRows(t.tenant.id, "webhook_logs", "error LIKE '%unreachable%'")).toBe(5);
  });
});
