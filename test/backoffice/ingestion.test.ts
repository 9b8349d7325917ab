import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, createTenant } from "../helpers";
import { invite, signInAs } from "./helpers";

describe("back-office ingestion pages", () => {
  it("an admin creates an API key (shown once, and it works) and revokes it; another tenant cannot revoke it", async () => {
    const t = await createTenant("keys");
    const u = await invite(t.id, "k@keys.example", "admin");
    const s = await signInAs(u.email, u.password);
    const created = await s.form("/app/api-keys", { name: "game-server" });
    expect(created.status).toBe(201);
    const html = await created.text();
    const key = /data-secret="">([^<]+)</.exec(html)?.[1];
    expect(key).toMatch(/^fk_/);
    const id = /<code>(key_[a-z0-9]+)<\/code>/.exec(html)?.[1];
    expect(id).toBeDefined();
    // Shown once: the list page never contains it again.
    expect(await (await s.get("/app/api-keys")).text()).not.toContain(key as string);
    // It is a real ingestion key.
    const ping = await SELF.fetch(`${BASE}/v1/ingestions/ing_nope`, { headers: { Authorization: `Bearer ${key}` } });
    expect(ping.status).toBe(404);

    const other = await createTenant("keys-other");
    const o = await signInAs(...(await invite(other.id, "o@keys-other.example", "admin").then((x) => [x.email, x.password] as const)));
    expect((await o.form(`/app/api-keys/${id}/revoke`)).status).toBe(404);

    const revoked = await s.form(`/app/api-keys/${id}/revoke`);
    expect(revoked.status).toBe(303);
    expect(await (await s.get("/app/api-keys")).text()).toContain("revoked");
    const after = await SELF.fetch(`${BASE}/v1/ingestions/ing_nope`, { headers: { Authorization: `Bearer ${key}` } });
    expect(after.status).toBe(401);

    // An editor sees the keys but cannot create or revoke them.
    const ed = await signInAs(...(await invite(t.id, "e@keys.example", "editor").then((x) => [x.email, x.password] as const)));
    expect(await (await ed.get("/app/api-keys")).text()).toContain("game-server");
    expect((await ed.form("/app/api-keys", { name: "nope" })).status).toBe(403);
  });

  it("an empty key name is shown at its field", async () => {
    const t = await createTenant("keys-empty");
    const s = await signInAs(...(await invite(t.id, "x@keys-empty.example").then((x) => [x.email, x.password] as const)));
    const r = await s.form("/app/api-keys", { name: "  " });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/id="key-error">Give the key a name/);
  });

  it("lists the tenant's CSV uploads with their per-line errors", async () => {
    const t = await createTenant("csv-page");
    const u = await invite(t.id, "csv@csv-page.example");
    const s = await signInAs(u.email, u.password);
    expect(await (await s.get("/app/ingestion")).text()).toContain("No CSV upload yet");
  });
});
