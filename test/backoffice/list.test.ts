import { describe, expect, it } from "vitest";
import { call, setupTenant } from "../helpers";
import { invite, signInAs } from "./helpers";

const names = (html: string) => [...html.matchAll(/<a href="\/app\/exports\/exp_[a-z0-9]+">([^<]+)<\/a>/g)].map((m) => m[1]);

describe("export list page", () => {
  it("pages, sorts, filters by category and marks favourites with the API's list", async () => {
    const t = await setupTenant("list-page");
    const s = await signInAs(...(await invite(t.tenant.id, "l@list-page.example").then((u) => [u.email, u.password] as const)));
    const ids: string[] = [];
    for (let i = 1; i <= 23; i++) {
      const r = await call("POST", "/api/1/exports", {
        token: t.token,
        body: { name: `exp-${String(i).padStart(2, "0")}`, model: "actions", all_fields: true, status: i % 2 ? "draft" : "active", schedule: { type: "daily", time: "06:00" } },
      });
      ids.push(r.json.id);
    }
    const byName = await (await s.get("/app?sort=name")).text();
    expect(names(byName)).toEqual(Array.from({ length: 20 }, (_, i) => `exp-${String(i + 1).padStart(2, "0")}`));
    expect(byName).toContain("Page 1 of 2");
    const page2 = await (await s.get("/app?sort=name&page=2")).text();
    expect(names(page2)).toEqual(["exp-21", "exp-22", "exp-23"]);
    const desc = await (await s.get("/app?sort=name&order=desc")).text();
    expect(names(desc)[0]).toBe("exp-23");

    const drafts = names(await (await s.get("/app?category=draft&sort=name")).text());
    expect(drafts).toHaveLength(12);
    expect(drafts.every((n) => Number(n?.slice(4)) % 2 === 1)).toBe(true);
    const scheduled = names(await (await s.get("/app?category=scheduled&sort=name")).text());
    expect(scheduled).toHaveLength(11);

    expect((await s.form(`/app/exports/${ids[4]}/favourite`, { favourite: "1" })).status).toBe(303);
    expect(names(await (await s.get("/app?category=favourites")).text())).toEqual(["exp-05"]);
    const api = await call("GET", "/api/1/exports?category=favourites", { token: t.token });
    expect(api.json.exports.map((e: { name: string }) => e.name)).toEqual(["exp-05"]);

    // Disable, clone (a draft copy opened in the wizard) and delete, from the list.
    expect((await s.form(`/app/exports/${ids[1]}/disable`, { back: "/app" })).headers.get("location")).toBe("/app?notice=disabled");
    expect((await call("GET", `/api/1/exports/${ids[1]}`, { token: t.token })).json.status).toBe("disabled");
    const clone = await s.form(`/app/exports/${ids[1]}/clone`);
    expect(clone.headers.get("location")).toMatch(/^\/app\/exports\/exp_[a-z0-9]+\/edit$/);
    expect((await s.get(clone.headers.get("location") as string)).status).toBe(200);
    expect((await s.form(`/app/exports/${ids[0]}/delete`, { back: "/app?sort=name" })).headers.get("location")).toBe("/app?sort=name&notice=deleted");
    expect((await call("GET", `/api/1/exports/${ids[0]}`, { token: t.token })).status).toBe(404);
    // A bad query falls back to the defaults rather than failing.
    expect((await s.get("/app?category=nope&page=-3&sort=x")).status).toBe(200);
  });
});
