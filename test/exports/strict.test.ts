import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createExport, getExport, updateExport } from "../../src/definitions";
import type { Env } from "../../src/env";
import { ExportBody, parseStoredDefinition } from "../../src/exports/definition";
import { createServices, fixedClock } from "../../src/services";
import { call, setupTenant } from "../helpers";

const e = env as unknown as Env;
const base = { name: "strict", model: "logins", all_fields: true, schedule: { type: "manual" } };

describe("definitions are strict", () => {
  it("an unknown key at any level is a 400 naming the key", async () => {
    const t = await setupTenant("strict-keys");
    const cases: [Record<string, unknown>, string, string][] = [
      [{ ...base, archive: "zip" }, "(body)", "archive"],
      [{ ...base, format: { type: "csv", archive: true } }, "format", "archive"],
      [{ ...base, target: { type: "download", bucket: "x" } }, "target", "bucket"],
      [
        { ...base, target: { type: "ftp", host: "ftp.example.com", username: "u", password: "p", passive: true } },
        "target",
        "passive",
      ],
      [{ ...base, schedule: { type: "daily", time: "06:00", timezone: "UTC" } }, "schedule", "timezone"],
      [{ ...base, notification: { webhook_url: "https://hooks.example/x", secret: "s".repeat(16), emails: [] } }, "notification", "emails"],
      [{ ...base, all_fields: false, fields: [{ from: "user_id", label: "x" }] }, "fields.0", "label"],
      [{ ...base, all_fields: false, fields: [{ from: "user_id", replace: [{ value: "a", with: "b", when: 1 }] }] }, "fields.0.replace.0", "when"],
      [{ ...base, filters: [[{ field: "user_id", op: "eq", value: "a", negate: true }]] }, "filters.0.0", "negate"],
      [{ ...base, encryption: { type: "pgp", public_key: "k".repeat(100), armor: true } }, "encryption", "armor"],
    ];
    for (const [body, path, key] of cases) {
      const r = await call("POST", "/api/1/exports", { token: t.token, body });
      expect(r.status, `${key}: ${r.text}`).toBe(400);
      expect(r.json.error.message, key).toContain(`"${key}"`);
      expect(r.json.error.details, key).toContainEqual({ path, message: expect.stringContaining(`"${key}"`) });
    }
    // PATCH too
    const ok = await call("POST", "/api/1/exports", { token: t.token, body: { ...base, status: "draft" } });
    expect(ok.status, ok.text).toBe(201);
    const p = await call("PATCH", `/api/1/exports/${ok.json.id}`, { token: t.token, body: { archive: "zip" } });
    expect(p.status).toBe(400);
    expect(p.json.error.message).toContain('"archive"');
  });

  it("a once-schedule in the past (by the service clock) is a 400 on create, update and publish; a stored one that passed still loads", async () => {
    const t = await setupTenant("strict-once");
    // through the API, with the real clock
    const past = await call("POST", "/api/1/exports", { token: t.token, body: { ...base, schedule: { type: "once", at: "2001-01-01T00:00:00Z" } } });
    expect(past.status).toBe(400);
    expect(past.json.error.message).toMatch(/schedule\.at: 2001-01-01T00:00:00Z is in the past/);
    expect(past.json.error.details).toEqual([{ path: "schedule.at", message: expect.stringContaining("future") }]);

    // through the service, with an injected clock: the clock decides, not Date.now()
    const at = "2031-06-01T08:00:00Z";
    const early = createServices(e, { clock: fixedClock(Date.parse("2031-05-01T00:00:00Z")) });
    const late = createServices(e, { clock: fixedClock(Date.parse("2031-07-01T00:00:00Z")) });
    const def = ExportBody.parse({ ...base, name: "once-2031", schedule: { type: "once", at } });
    await expect(createExport(late, t.tenant.id, "test", def)).rejects.toThrow(/in the past/);
    const draft = await createExport(early, t.tenant.id, "test", { ...def, status: "draft" });
    expect(draft.nextRunAt).toBeNull();
    await expect(updateExport(late, t.tenant.id, draft.id, def, false)).rejects.toThrow(/in the past/);
    await expect(updateExport(late, t.tenant.id, draft.id, def, true)).rejects.toThrow(/in the past/);
    const published = await updateExport(early, t.tenant.id, draft.id, def, true);
    expect(published.nextRunAt).toBe(Date.parse(at) / 1000);

    // Once its time has passed (the late clock), the stored definition still reads.
    const rec = await getExport(late, t.tenant.id, draft.id);
    expect(rec?.definition?.schedule).toEqual({ type: "once", at });
    expect(() => parseStoredDefinition(JSON.stringify(rec?.definition))).not.toThrow();
    expect((await call("GET", `/api/1/exports/${draft.id}`, { token: t.token })).status).toBe(200);

    // Publishing again after it passed (disable, enable) is refused too.
    expect((await call("POST", `/api/1/exports/${draft.id}/disable`, { token: t.token })).status).toBe(200);
    const { setEnabled } = await import("../../src/definitions");
    await expect(setEnabled(late, t.tenant.id, draft.id, true)).rejects.toThrow(/in the past/);
    expect((await setEnabled(early, t.tenant.id, draft.id, true)).status).toBe("active");
  });
});
