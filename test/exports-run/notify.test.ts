import { describe, expect, it } from "vitest";
import { failRun } from "../../src/exports/runner";
import { newId } from "../../src/lib/ids";
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
      body: { name: "notified", model: "logins", all_fields: true, notification: { webhook_url: `${servers().control}/webhooks/${hook}`, secret: SECRET } },
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
      body: { name: "will-fail", model: "logins", all_fields: true, notification: { webhook_url: `${servers().control}/webhooks/${hook}`, secret: SECRET } },
    });
    const stored = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(created.json.id).first<{ definition: string }>();
    // A pending run that no queue message drives, failed the way the chain or the dead-letter consumer fails it.
    const runId = newId("run");
    await e.DB.prepare(
      "INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, created_at) VALUES (?1, ?2, ?3, 'pending', 'manual', ?4, 0)",
    )
      .bind(runId, t.tenant.id, created.json.id, stored!.definition)
      .run();
    await failRun(e, runId, "the source table is gone");
    const [delivery] = await waitFor(async () => {
      const h = await hooks(hook);
      return h.length ? h : undefined;
    }, "the webhook");
    const event = JSON.parse(delivery!.body);
    expect(event).toMatchObject({ type: "export.run.failed", data: { run_id: runId, status: "failed", error: "the source table is gone" } });
    expect(await verifyWebhookSignature(SECRET, delivery!.headers["ferry-signature"]!, delivery!.body)).toBe(true);
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
