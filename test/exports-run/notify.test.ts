import { describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage, LEASE_SECONDS, sweepStalledChains } from "../../src/chain";
import { chainJobs } from "../../src/jobs";
import { newId } from "../../src/lib/ids";
import { createRun } from "../../src/runs";
import { failRun } from "../../src/runs/job";
import { createServices, fixedClock } from "../../src/services";
import { verifyWebhookSignature } from "../../src/services/webhooks";
import { call, setupTenant, waitFor } from "../helpers";
import { e, servers, unique } from "../targets/helpers";

const SECRET = "whsec-0123456789abcdef";

async function hooks(name: string): Promise<{ headers: Record<string, string>; body: string }[]> {
  return (await fetch(`${servers().control}/webhooks?name=${name}`)).json();
}


describe("run notifications", () => {
  it("a finished run posts one signed export.run.finished webhook; the secret is sealed at rest and masked", async () => {
    const t = await setupTenant("notify-finished");
    const hook = unique("hook");
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "notified", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: `${servers().control}/webhooks/${hook}`, secret: SECRET } },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.notification).toEqual({ webhook_url: `${servers().control}/webhooks/${hook}`, secret: "****" });
    const raw = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(created.json.id).first<{ definition: string }>();
    expect(raw!.definition).not.toContain(SECRET);

    const run = await call("POST", `/api/1/exports/${created.json.id}/runs`, { token: t.token });
    expect(run.status).toBe(202);
    const [delivery] = await waitFor(async () => {
      const h = await hooks(hook);
      return h.length ? h : undefined;
    }, "the webhook");
    const event = JSON.parse(delivery!.body);
    expect(event).toMatchObject({ type: "export.run.finished", id: `${run.json.id}.export.run.finished`, tenant_id: t.tenant.id });
    expect(event.data).toMatchObject({ run_id: run.json.id, status: "finished", export_name: "notified", rows: 0 });
    expect(delivery!.headers["ferry-event"]).toBe("export.run.finished");
    expect(await verifyWebhookSignature(SECRET, delivery!.headers["ferry-signature"]!, delivery!.body)).toBe(true);
    expect(await verifyWebhookSignature("another-secret-000000", delivery!.headers["ferry-signature"]!, delivery!.body)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, delivery!.headers["ferry-signature"]!, delivery!.body.replace("finished", "failed"))).toBe(false);
  });

  it("a failed run posts export.run.failed with the reason", async () => {
    const t = await setupTenant("notify-failed");
    const hook = unique("hook");
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "will-fail", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: `${servers().control}/webhooks/${hook}`, secret: SECRET } },
    });
    const stored = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(created.json.id).first<{ definition: string }>();
    // A pending run that no queue message drives, failed the way the chain or the dead-letter consumer fails it.
    const runId = newId("run");
    await e.DB.prepare(
      "INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, created_at) VALUES (?1, ?2, ?3, 'pending', 'manual', ?4, 0)",
    )
      .bind(runId, t.tenant.id, created.json.id, stored!.definition)
      .run();
    await failRun(createServices(e), t.tenant.id, runId, "the source table is gone");
    const [delivery] = await waitFor(async () => {
      const h = await hooks(hook);
      return h.length ? h : undefined;
    }, "the webhook");
    const event = JSON.parse(delivery!.body);
    expect(event).toMatchObject({ type: "export.run.failed", data: { run_id: runId, status: "failed", error: "the source table is gone" } });
    expect(await verifyWebhookSignature(SECRET, delivery!.headers["ferry-signature"]!, delivery!.body)).toBe(true);
  });

  it("a webhook whose message is lost (the worker died right after the run finished) is sent by the sweep", async () => {
    const t = await setupTenant("notify-lost");
    const hook = unique("hook");
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "lost-hook", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: `${servers().control}/webhooks/${hook}`, secret: SECRET } },
    });
    expect(created.status, created.text).toBe(201);
    // A queue that loses every message but the run's own links, which the test delivers by hand:
    // the webhook's first message is lost as if the worker died right after marking the run finished.
    const clock = fixedClock(Date.now());
    const links: ChainMessage[] = [];
    const lost: ChainMessage[] = [];
    const s = createServices(e, {
      clock,
      jobs: { send: async (m) => void ((m as ChainMessage).chain_id?.startsWith("export_run:") ? links : lost).push(m as ChainMessage) },
    });
    const run = await createRun(s, { tenantId: t.tenant.id, exportId: created.json.id, trigger: "manual" });
    for (let m = links.shift(); m; m = links.shift()) await handleChainMessage(s, chainJobs, m);
    expect((await call("GET", `/api/1/exports/${created.json.id}/runs/${run.id}`, { token: t.token })).json.status).toBe("finished");
    const eventId = `${run.id}.export.run.finished`;
    expect(lost.map((m) => m.chain_id)).toEqual([`webhook:${eventId}`]);
    expect(await hooks(hook)).toEqual([]);

    // Past the lease the cron's sweep sends the chain's message again; handling it posts the webhook.
    clock.advance(LEASE_SECONDS + 1);
    const resent: ChainMessage[] = [];
    const sweeper = createServices(e, { clock, jobs: { send: async (m) => void resent.push(m as ChainMessage) } });
    await sweepStalledChains(sweeper);
    const mine = resent.filter((m) => m.chain_id === `webhook:${eventId}`);
    expect(mine).toHaveLength(1);
    await handleChainMessage(sweeper, chainJobs, mine[0]!);
    const [delivery] = await waitFor(async () => {
      const h = await hooks(hook);
      return h.length ? h : undefined;
    }, "the webhook");
    expect(delivery!.headers["ferry-delivery"]).toBe(eventId);
    expect(JSON.parse(delivery!.body)).toMatchObject({ type: "export.run.finished", id: eventId, data: { run_id: run.id, status: "finished" } });
    expect(await verifyWebhookSignature(SECRET, delivery!.headers["ferry-signature"]!, delivery!.body)).toBe(true);
    // sent once: the chain is done, a late duplicate of its message does nothing
    await handleChainMessage(sweeper, chainJobs, mine[0]!);
    expect(await hooks(hook)).toHaveLength(1);
  });

  it("a receiver answering 4xx ends the webhook chain as failed with the reason (no retry)", async () => {
    const t = await setupTenant("notify-4xx");
    const created = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "refused-hook", model: "logins", all_fields: true, schedule: { type: "manual" }, notification: { webhook_url: `${servers().control}/no-such-receiver`, secret: SECRET } },
    });
    expect(created.status, created.text).toBe(201);
    const sent: ChainMessage[] = [];
    const s = createServices(e, { jobs: { send: async (m) => void sent.push(m as ChainMessage) } });
    const run = await createRun(s, { tenantId: t.tenant.id, exportId: created.json.id, trigger: "manual" });
    for (let m = sent.shift(); m; m = sent.shift()) await handleChainMessage(s, chainJobs, m);
    const chain = await e.DB.prepare("SELECT status, last_error FROM chains WHERE id = ?1")
      .bind(`webhook:${run.id}.export.run.finished`)
      .first<{ status: string; last_error: string }>();
    expect(chain?.status).toBe("failed");
    expect(chain?.last_error).toMatch(/answered 404/);
  });

  it("refuses a non-http URL and a short secret, and '****' keeps the stored secret on update", async () => {
    const t = await setupTenant("notify-validate");
    const bad = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "bad-hook", model: "logins", all_fields: true, notification: { webhook_url: "ftp://x.example/", secret: "short" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/webhook_url/);
    const draft = await call("POST", "/api/1/exports", {
      token: t.token,
      body: { name: "keep-secret", model: "logins", all_fields: true, status: "draft", notification: { webhook_url: "https://hooks.example/x", secret: SECRET } },
    });
    const before = (await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(draft.json.id).first<{ definition: string }>())!.definition;
    const upd = await call("PATCH", `/api/1/exports/${draft.json.id}`, {
      token: t.token,
      body: { notification: { webhook_url: "https://hooks.example/y", secret: "****" } },
    });
    expect(upd.status, upd.text).toBe(200);
    const after = (await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(draft.json.id).first<{ definition: string }>())!.definition;
    expect(JSON.parse(after).notification.secret).toBe(JSON.parse(before).notification.secret);
    expect(JSON.parse(after).notification.webhook_url).toBe("https://hooks.example/y");
  });
});
