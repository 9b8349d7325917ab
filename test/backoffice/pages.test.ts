import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { BASE, call, createTenant, setupTenant } from "../helpers";
import { invite, signInAs } from "./helpers";

const e = env as unknown as Env;

const draft = (name: string) => ({ name, model: "actions", fields: [{ from: "user_id" }, { from: "action_name" }], status: "draft" });

describe("back-office pages", () => {
  it("signed out, /app is the sign-in form; other pages send you there", async () => {
    const page = await call("GET", "/app");
    expect(page.status).toBe(200);
    expect(page.text).toContain('<label for="email">Email</label>');
    expect(page.text).toContain('<label for="password">Password</label>');
    expect(page.text).toMatch(/<button[^>]*>Sign in<\/button>/);
    const other = await SELF.fetch(`${BASE}/app/exports/new`, { redirect: "manual" });
    expect(other.status).toBe(303);
    expect(other.headers.get("location")).toBe("/app");
    await other.text();
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  it("a person's export is created by the same service as the API's, with their email as created_by", async () => {
    const t = await setupTenant("made-by");
    const u = await invite(t.tenant.id, "maker@made-by.example", "editor");
    const s = await signInAs(u.email, u.password);
    const r = await s.json("POST", "/app/exports", draft("by-a-person"));
    expect(r.status).toBe(201);
    const api = await call("GET", `/api/1/exports/${r.json.id}`, { token: t.token });
    expect(api.status).toBe(200);
    expect(api.json).toMatchObject({ name: "by-a-person", status: "draft", created_by: "maker@made-by.example" });

    // The list page is the API's list: the same export, found by search.
    const list = await s.get("/app?q=by-a-per");
    const html = await list.text();
    expect(html).toContain(`href="/app/exports/${r.json.id}"`);
    expect(html).toContain("maker@made-by.example");
    expect(await (await s.get("/app?q=zzz")).text()).not.toContain(`href="/app/exports/${r.json.id}"`);
  });

  it("validation errors come back with the path of the field they concern", async () => {
    const t = await createTenant("invalid");
    const u = await invite(t.id, "v@invalid.example");
    const s = await signInAs(u.email, u.password);
    const bad = await s.json("POST", "/app/exports", { ...draft("has spaces"), filters: [[{ field: "timestamp", op: "gt", value: "soon" }]] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details).toContainEqual({ path: "name", message: expect.stringContaining("letters, digits") });
    const badFilter = await s.json("POST", "/app/exports", { ...draft("ok-name"), filters: [[{ field: "nope", op: "eq", value: 1 }]] });
    expect(badFilter.status).toBe(400);
    expect(badFilter.json.error.details[0].path).toMatch(/^filters\.0\.0/);
  });

  it("refuses every change without the session's CSRF token", async () => {
    const t = await createTenant("csrf");
    const u = await invite(t.id, "c@csrf.example");
    const s = await signInAs(u.email, u.password);
    const created = await s.json("POST", "/app/exports", draft("csrf-target"));
    expect(created.status).toBe(201);
    const id = created.json.id;

    expect((await s.form(`/app/exports/${id}/favourite`, { favourite: "1" }, { csrf: null })).status).toBe(403);
    expect((await s.form(`/app/exports/${id}/favourite`, { favourite: "1" }, { csrf: "forged" })).status).toBe(403);
    expect((await s.json("POST", "/app/exports", draft("csrf-2"), { csrf: null })).status).toBe(403);
    expect((await s.form(`/app/exports/${id}/delete`, {}, { csrf: null })).status).toBe(403);
    expect((await s.form("/app/sign-out", {}, { csrf: null })).status).toBe(403);
    // Nothing changed; with the token it works.
    expect(await (await s.get(`/app/exports/${id}`)).text()).not.toContain("sr-only\">favourite");
    const ok = await s.form(`/app/exports/${id}/favourite`, { favourite: "1", back: "/app" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/app");
    expect(await (await s.get(`/app/exports/${id}`)).text()).toContain("favourite");
    // `back` only ever leads inside the back office.
    const away = await s.form(`/app/exports/${id}/favourite`, { favourite: "0", back: "https://evil.example/" });
    expect(away.headers.get("location")).toBe("/app");
  });

  it("another tenant's export id in the URL is a 404 page, and its actions are refused", async () => {
    const a = await createTenant("tenant-a");
    const b = await createTenant("tenant-b");
    const ua = await invite(a.id, "a@tenant-a.example");
    const ub = await invite(b.id, "b@tenant-b.example");
    const sa = await signInAs(ua.email, ua.password);
    const sb = await signInAs(ub.email, ub.password);
    const id = (await sa.json("POST", "/app/exports", draft("secret-of-a"))).json.id;
    expect((await sa.get(`/app/exports/${id}`)).status).toBe(200);
    const page = await sb.get(`/app/exports/${id}`);
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).toContain("not found");
    expect(html).not.toContain("secret-of-a");
    expect((await sb.get(`/app/exports/${id}/edit`)).status).toBe(404);
    expect((await sb.get(`/app/exports/${id}/runs`)).status).toBe(404);
    expect((await sb.form(`/app/exports/${id}/delete`)).status).toBe(404);
    expect((await sb.form(`/app/exports/${id}/run`)).status).toBe(404);
    expect((await sb.json("PUT", `/app/exports/${id}`, draft("taken-over"))).status).toBe(404);
    expect((await sa.get(`/app/exports/${id}`)).status).toBe(200);
  });

  it("a viewer reads but changes nothing", async () => {
    const t = await createTenant("viewing");
    const editor = await signInAs(...(await invite(t.id, "ed@viewing.example", "editor").then((u) => [u.email, u.password] as const)));
    const id = (await editor.json("POST", "/app/exports", draft("look-only"))).json.id;
    const viewer = await signInAs(...(await invite(t.id, "view@viewing.example", "viewer").then((u) => [u.email, u.password] as const)));
    const list = await (await viewer.get("/app")).text();
    expect(list).toContain("look-only");
    expect(list).not.toContain("New export");
    expect((await viewer.get(`/app/exports/${id}`)).status).toBe(200);
    expect((await viewer.get("/app/exports/new")).status).toBe(403);
    expect((await viewer.form(`/app/exports/${id}/delete`)).status).toBe(403);
    expect((await viewer.json("POST", "/app/exports", draft("nope"))).status).toBe(403);
    expect((await viewer.form("/app/api-keys", { name: "k" })).status).toBe(403);
  });

  it("Test connection is the API's target test: masked secrets are refused, a refusing host says why", async () => {
    const t = await createTenant("target-test");
    const s = await signInAs(...(await invite(t.id, "t@target-test.example", "editor").then((u) => [u.email, u.password] as const)));
    const masked = await s.json("POST", "/app/targets/test", { type: "ftp", host: "127.0.0.1", port: 1, username: "x", password: "****" });
    expect(masked.status).toBe(400);
    expect(masked.json.error.details).toEqual([{ path: "password", message: "masked value" }]);
    const refused = await s.json("POST", "/app/targets/test", { type: "ftp", host: "127.0.0.1", port: 1, username: "x", password: "y" });
    expect(refused.status).toBe(422);
    expect(refused.json.error.message).toMatch(/^Connection test failed: /);
    const invalid = await s.json("POST", "/app/targets/test", { type: "ftp", host: "bad host!", username: "x", password: "y" });
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.details[0].path).toBe("host");
  });

  it("signing out ends the session", async () => {
    const t = await createTenant("bye");
    const u = await invite(t.id, "bye@bye.example");
    const s = await signInAs(u.email, u.password);
    const out = await s.form("/app/sign-out");
    expect(out.status).toBe(303);
    const again = await s.get("/app");
    expect(await again.text()).toContain('<label for="password">Password</label>');
    const row = await e.DB.prepare("SELECT count(*) AS n FROM sessions WHERE tenant_id = ?1").bind(t.id).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});
