import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import { failRun } from "../../src/runs/job";
import { createServices } from "../../src/services";
import { call, setupTenant, waitFor } from "../helpers";
import type { ReceivedMail as Mail } from "../servers/smtp";
import { e, servers, unique } from "../targets/helpers";
import { expectedCsv, seedExport, seedParticipations } from "./helpers";

/**
 * Email notifications through a real SMTP relay on loopback (test/servers/smtp.ts: STARTTLS,
 * AUTH required, a wrong password refused with 535). The worker talks SMTP over
 * cloudflare:sockets with worker-mailer, inside workerd.
 */

const mailTo = async (to: string): Promise<Mail[]> => (await fetch(`${servers().control}/mail?to=${encodeURIComponent(to)}`)).json();

const relay = (password = servers().smtp.password) => ({
  host: servers().smtp.host,
  port: servers().smtp.port,
  security: "starttls",
  username: servers().smtp.user,
  password,
  from: "exports@ferry.test",
});

async function runOf(token: string, exportId: string, runId: string) {
  return (await call("GET", `/api/1/exports/${exportId}/runs/${runId}`, { token })).json;
}

describe("email notifications", () => {
  it("a finished run mails its signed download link to every recipient; the link downloads the file; the relay password is sealed and masked", async () => {
    const t = await setupTenant("email-finished");
    await seedParticipations(t.tenant.id, 25);
    const [a, b] = [`${unique("ops")}@example.com`, `${unique("data")}@example.com`];
    const exportId = await seedExport(t.token, { name: "mailed", notification: { email: { to: [a, b], relay: relay() } } });

    const shown = await call("GET", `/api/1/exports/${exportId}`, { token: t.token });
    expect(shown.json.notification.email).toEqual({ to: [a, b], relay: { ...relay(), password: "****" } });
    const raw = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(exportId).first<{ definition: string }>();
    expect(raw!.definition).not.toContain(servers().smtp.password);

    const run = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(run.status).toBe(202);
    const [mail] = await waitFor(async () => {
      const m = await mailTo(a);
      return m.length ? m : undefined;
    }, "the email");
    expect(mail!.rcpt_to.sort()).toEqual([a, b].sort());
    expect(mail!.mail_from).toBe("exports@ferry.test");
    expect(mail!.user).toBe(servers().smtp.user);
    expect(mail!.tls).toBe(true);
    expect(mail!.subject).toBe("Export mailed is ready");
    expect(mail!.message_id).toBe(`<${run.json.id}.export.run.finished@ferry>`);
    expect(mail!.text).toContain("25 rows");

    const link = /http:\/\/ferry\.test\/api\/1\/downloads\/\S+/.exec(mail!.text)?.[0];
    expect(link, mail!.text).toBeDefined();
    const file = await SELF.fetch(link!);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe(await expectedCsv(t.tenant.id));

    const view = await waitFor(async () => {
      const r = await runOf(t.token, exportId, run.json.id);
      return r.email?.status === "sent" ? r : undefined;
    }, "the run's email to show sent");
    expect(view.email).toMatchObject({ status: "sent", error: null });
    expect(view.email.sent_at).toMatch(/^\d{4}-/);
  });

  it("a failed run mails the reason", async () => {
    const t = await setupTenant("email-failed");
    const to = `${unique("ops")}@example.com`;
    const exportId = await seedExport(t.token, { name: "mailed-fail", notification: { email: { to: [to], relay: relay() } } });
    const stored = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?1").bind(exportId).first<{ definition: string }>();
    const runId = newId("run");
    await e.DB.prepare(
      "INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, created_at) VALUES (?1, ?2, ?3, 'pending', 'manual', ?4, 0)",
    )
      .bind(runId, t.tenant.id, exportId, stored!.definition)
      .run();
    await failRun(createServices(e), t.tenant.id, runId, "the source table is gone");
    const [mail] = await waitFor(async () => {
      const m = await mailTo(to);
      return m.length ? m : undefined;
    }, "the email");
    expect(mail!.subject).toBe("Export mailed-fail failed");
    expect(mail!.text).toContain("Reason: the source table is gone");
    expect(mail!.text).not.toContain("/api/1/downloads/");
  });

  it("a wrong relay password: the relay refuses (535), the email ends failed at once with a readable reason shown on the run", async () => {
    const t = await setupTenant("email-badpass");
    const to = `${unique("ops")}@example.com`;
    const exportId = await seedExport(t.token, { name: "mailed-badpass", notification: { email: { to: [to], relay: relay("not the password") } } });
    const run = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    const view = await waitFor(async () => {
      const r = await runOf(t.token, exportId, run.json.id);
      return r.email?.status === "failed" ? r : undefined;
    }, "the run's email to show failed");
    expect(view.status).toBe("finished");
    expect(view.email.error).toContain(`SMTP relay 127.0.0.1:${servers().smtp.port}`);
    expect(view.email.error).toContain("535");
    expect(view.email.error).toContain("check notification.email.relay.username and password");
    const chain = await e.DB.prepare("SELECT attempts FROM chains WHERE id = ?1").bind(`email:${run.json.id}.export.run.finished`).first<{ attempts: number }>();
    expect(chain!.attempts).toBe(0);
    expect(await mailTo(to)).toEqual([]);
  });

  it("the definition refuses an email without a relay, a bad address, a webhook_url without its secret", async () => {
    const t = await setupTenant("email-invalid");
    const bad = async (notification: unknown) => {
      const r = await call("POST", "/api/1/exports", { token: t.token, body: { name: unique("x"), model: "logins", all_fields: true, schedule: { type: "manual" }, notification } });
      expect(r.status, r.text).toBe(400);
      return r.text;
    };
    expect(await bad({ email: { to: ["a@example.com"] } })).toContain("relay");
    expect(await bad({ email: { to: ["not-an-address"], relay: relay() } })).toContain("email address");
    expect(await bad({ email: { to: ["a@example.com"], relay: { ...relay(), tls: true } } })).toContain("tls");
    expect(await bad({ webhook_url: "https://example.com/hook" })).toContain("secret");
    expect(await bad({})).toContain("webhook_url");
  });
});
