import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { timingSafeEqualStr, toBase64Url } from "../../lib/crypto";
import { type Capability, SESSION_SECONDS, can, sessionUser } from "../../users/users";
import type { PageEnv } from "./context";

/**
 * Back-office sessions and CSRF protection.
 *
 * Cookie: `ferry_session`, HttpOnly (scripts never see it), SameSite=Lax (not sent on
 * cross-site POSTs), Path=/app, and Secure everywhere but on localhost, where `npm run dev`
 * serves plain http.
 *
 * CSRF: a synchronizer token kept in the session row. Every form carries it as `_csrf`
 * and every fetch as the `X-CSRF-Token` header; every POST/PUT/PATCH/DELETE under /app is
 * refused (403) without the session's token. The sign-in form, which has no session yet,
 * uses a double-submit token: a random cookie that the form must echo.
 */

export const SESSION_COOKIE = "ferry_session";
const SIGNIN_COOKIE = "ferry_signin";

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);
const secure = (c: Context) => !LOCAL_HOSTS.has(new URL(c.req.url).hostname);

export function setSessionCookie(c: Context<PageEnv>, token: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    secure: secure(c),
    sameSite: "Lax",
    path: "/app",
    maxAge: SESSION_SECONDS,
  });
}

export function clearSessionCookie(c: Context<PageEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/app", secure: secure(c) });
}

/** The sign-in form's token: a fresh random value in a short-lived cookie, echoed by the form. */
export function signInToken(c: Context<PageEnv>): string {
  const token = getCookie(c, SIGNIN_COOKIE) ?? toBase64Url(crypto.getRandomValues(new Uint8Array(24)));
  setCookie(c, SIGNIN_COOKIE, token, { httpOnly: true, secure: secure(c), sameSite: "Strict", path: "/app", maxAge: 3600 });
  return token;
}

/** Loads the signed-in person (or null) for every /app request. */
export const loadSession = () =>
  createMiddleware<PageEnv>(async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    c.set("who", token ? await sessionUser(c.var.services, token) : null);
    await next();
  });

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class CsrfError extends Error {}

/** Refuses a mutating request without the right token (see the comment at the top). */
export const checkCsrf = () =>
  createMiddleware<PageEnv>(async (c, next) => {
    if (!MUTATING.has(c.req.method)) return next();
    let sent = c.req.header("x-csrf-token");
    if (sent === undefined) {
      const type = c.req.header("content-type") ?? "";
      if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
        const form = await c.req.parseBody();
        sent = typeof form._csrf === "string" ? form._csrf : undefined;
      }
    }
    const who = c.get("who");
    const expected = c.req.path === "/app/sign-in" ? getCookie(c, SIGNIN_COOKIE) : who?.csrf;
    if (!sent || !expected || !(await timingSafeEqualStr(sent, expected))) throw new CsrfError("missing or wrong CSRF token");
    await next();
  });

export class SignInRequired extends Error {}
export class NotAllowed extends Error {
  constructor(readonly what: Capability) {
    super(`needs ${what}`);
  }
}

/** The signed-in person, or a redirect to the sign-in page; with `what`, the role must allow it. */
export function requireUser(c: Context<PageEnv>, what?: Capability) {
  const who = c.get("who");
  if (!who) throw new SignInRequired();
  if (what && !can(who.user.role, what)) throw new NotAllowed(what);
  return who;
}
