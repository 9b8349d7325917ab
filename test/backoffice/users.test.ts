import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { getUser } from "../../src/db/users";
import { createServices, fixedClock } from "../../src/services";
import { PBKDF2_MAX_ITERATIONS } from "../../src/users/passwords";
import { LOCK_SECONDS, MAX_FAILED_SIGN_INS, signIn } from "../../src/users/users";
import { ADMIN, call, createTenant } from "../helpers";
import { invite, postSignIn } from "./helpers";

const e = env as unknown as Env;

describe("back-office users", () => {
  it("the admin API invites a user once per email; the password is shown once and hashed at the Workers cap", async () => {
    const t = await createTenant("people");
    const r = await call("POST", `/api/1/admin/tenants/${t.id}/users`, { headers: ADMIN, body: { email: "Ann@People.example", role: "editor" } });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ id: expect.stringMatching(/^usr_/), email: "ann@people.example", role: "editor", password: expect.any(String) });
    expect(r.json.password.length).toBeGreaterThanOrEqual(20);

    const row = await getUser(createServices(e).db, t.id, r.json.id);
    // Deployed Workers refuse PBKDF2 above 100,000 iterations; local workerd does not, so check it here.
    expect(row?.password_iterations).toBeLessThanOrEqual(100_000);
    expect(PBKDF2_MAX_ITERATIONS).toBe(100_000);
    expect(row?.password_hash).not.toContain(r.json.password);

    // One email, one user, whatever the case and whichever tenant asks.
    const other = await createTenant("people-2");
    const dup = await call("POST", `/api/1/admin/tenants/${other.id}/users`, { headers: ADMIN, body: { email: "ANN@people.example", role: "viewer" } });
    expect(dup.status).toBe(409);

    expect((await call("POST", `/api/1/admin/tenants/ten_nope/users`, { headers: ADMIN, body: { email: "x@y.example", role: "admin" } })).status).toBe(404);
    const bad = await call("POST", `/api/1/admin/tenants/${t.id}/users`, { headers: ADMIN, body: { email: "x@y.example", role: "owner" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("role");
    expect((await call("POST", `/api/1/admin/tenants/${t.id}/users`, { body: { email: "x@y.example", role: "admin" } })).status).toBe(401);
  });

  it("signing in sets an HttpOnly, SameSite=Lax session cookie, Secure except on localhost", async () => {
    const t = await createTenant("cookies");
    const u = await invite(t.id, "cookie@cookies.example");
    const remote = await postSignIn(u.email, u.password);
    expect(remote.res.status).toBe(303);
    const set = remote.res.headers.getSetCookie().find((c) => c.startsWith("ferry_session="));
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).toMatch(/Secure/);
    expect(set).toMatch(/Path=\/app/);

    const local = await postSignIn(u.email, u.password, { base: "http://localhost:8787" });
    const localSet = local.res.headers.getSetCookie().find((c) => c.startsWith("ferry_session="));
    expect(localSet).toBeDefined();
    expect(localSet).not.toMatch(/Secure/);
  });

  it("a wrong password or an unknown email gets the same answer; the sign-in form needs its CSRF token", async () => {
    const t = await createTenant("wrong");
    const u = await invite(t.id, "wrong@wrong.example");
    const a = await postSignIn(u.email, "not-it");
    const b = await postSignIn("nobody@wrong.example", "not-it");
    expect(a.res.status).toBe(401);
    expect(b.res.status).toBe(401);
    expect(await a.res.text()).toContain("The email or the password is wrong.");
    expect(await b.res.text()).toContain("The email or the password is wrong.");
    const noToken = await postSignIn(u.email, u.password, { csrf: false });
    expect(noToken.res.status).toBe(403);
    expect(noToken.res.headers.getSetCookie().some((c) => c.startsWith("ferry_session="))).toBe(false);
  });

  it(`locks the account for ${LOCK_SECONDS / 60} minutes after ${MAX_FAILED_SIGN_INS} wrong passwords, even for the right one`, async () => {
    const t = await createTenant("lock");
    const u = await invite(t.id, "lock@lock.example");
    const clock = fixedClock(Date.UTC(2026, 10, 26, 12));
    const s = createServices(e, { clock });
    for (let i = 1; i < MAX_FAILED_SIGN_INS; i++) expect(await signIn(s, u.email, "nope")).toEqual({ ok: false, reason: "invalid" });
    const locked = await signIn(s, u.email, "nope");
    expect(locked).toEqual({ ok: false, reason: "locked", until: clock.seconds() + LOCK_SECONDS });
    expect(await signIn(s, u.email, u.password)).toMatchObject({ ok: false, reason: "locked" });
    clock.advance(LOCK_SECONDS - 1);
    expect(await signIn(s, u.email, u.password)).toMatchObject({ ok: false, reason: "locked" });
    clock.advance(2);
    expect(await signIn(s, u.email, u.password)).toMatchObject({ ok: true });
    // The count starts again after a right password: four more wrong ones do not lock.
    for (let i = 1; i < MAX_FAILED_SIGN_INS; i++) expect(await signIn(s, u.email, "nope")).toEqual({ ok: false, reason: "invalid" });
    expect(await signIn(s, u.email, u.password)).toMatchObject({ ok: true });
  });

  it("the sign-in form says when the account is locked", async () => {
    const t = await createTenant("lockform");
    const u = await invite(t.id, "form@lockform.example");
    for (let i = 0; i < MAX_FAILED_SIGN_INS; i++) await postSignIn(u.email, "nope");
    const r = await postSignIn(u.email, u.password);
    expect(r.res.status).toBe(429);
    expect(await r.res.text()).toContain("locked");
  });
});
