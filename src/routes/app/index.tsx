import type { Context } from "hono";
import * as z from "zod";
import { CATEGORIES } from "../../backoffice/services";
import * as svc from "../../backoffice/services";
import { ApiError } from "../../lib/errors";
import { signIn, signOut } from "../../users/users";
import { APP_JS } from "./assets/app-js";
import { APP_CSS } from "./assets/css";
import { type PageEnv, pageRouter } from "./context";
import { ErrorPage } from "./pages/errors";
import { ExportListPage, type ListState } from "./pages/exports-list";
import { SignInPage } from "./pages/sign-in";
import { CsrfError, NotAllowed, SignInRequired, checkCsrf, clearSessionCookie, loadSession, requireUser, setSessionCookie, signInToken } from "./session";
import { exportPages } from "./exports";
import { noticeText } from "./notices";
import { ingestionPages } from "./ingestion";
import { WIZARD_JS } from "./assets/wizard-js";
import { EXPORT_JS } from "./assets/export-js";

/**
 * The back office, served by the Worker itself under /app: server-rendered hono/jsx pages
 * with small same-origin scripts (no CDN, no build step). Pages call the same services as the
 * API (src/backoffice/services.ts); signed-in people act for their own tenant only.
 */
export const appRouter = pageRouter();

const ASSETS: Record<string, { body: string; type: string }> = {
  "app.css": { body: APP_CSS, type: "text/css; charset=utf-8" },
  "app.js": { body: APP_JS, type: "text/javascript; charset=utf-8" },
  "wizard.js": { body: WIZARD_JS, type: "text/javascript; charset=utf-8" },
  "export.js": { body: EXPORT_JS, type: "text/javascript; charset=utf-8" },
};

appRouter.get("/assets/:name", (c) => {
  const a = ASSETS[c.req.param("name")];
  if (!a) return c.text("Not found", 404);
  return c.body(a.body, 200, { "Content-Type": a.type, "Cache-Control": "no-cache" });
});

// Pages: strict same-origin policy, no framing, no referrer leaking ids to other sites.
appRouter.use("*", async (c, next) => {
  await next();
  c.header(
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "same-origin");
  c.header("X-Content-Type-Options", "nosniff");
  if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
});
appRouter.use("*", loadSession());
appRouter.use("*", checkCsrf());

/** Where to go back after a form: only a path inside the back office (never another site). */
export function backTo(raw: unknown, fallback = "/app"): string {
  return typeof raw === "string" && /^\/app(\/|\?|$)/.test(raw) && !raw.startsWith("//") ? raw : fallback;
}

const ListQuery = z.object({
  q: z.string().max(100).catch(""),
  category: z.enum(CATEGORIES).catch("all"),
  sort: z.enum(["name", "created_at"]).catch("created_at"),
  order: z.enum(["asc", "desc"]).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
});

appRouter.get("/", async (c) => {
  const who = c.get("who");
  if (!who) return c.html(<SignInPage token={signInToken(c)} />);
  const q = ListQuery.parse(c.req.query());
  const s: ListState = { ...q, order: q.order ?? (q.sort === "name" ? "asc" : "desc"), perPage: 20 };
  const { items, total } = await svc.listExports(c.var.services, who.tenant.id, {
    ...(s.q ? { q: s.q } : {}),
    category: s.category,
    sort: s.sort,
    order: s.order,
    page: s.page,
    perPage: s.perPage,
  });
  return c.html(<ExportListPage who={who} s={s} items={items} total={total} notice={noticeText(c.req.query("notice"))} />);
});

appRouter.post("/sign-in", async (c) => {
  const form = await c.req.parseBody();
  const email = typeof form.email === "string" ? form.email : "";
  const password = typeof form.password === "string" ? form.password : "";
  const r = await signIn(c.var.services, email, password);
  if (!r.ok) {
    const error =
      r.reason === "locked"
        ? `Too many wrong passwords: this account is locked until ${new Date(r.until * 1000).toISOString().slice(11, 16)} UTC. Try again then, or ask an admin.`
        : "The email or the password is wrong.";
    return c.html(<SignInPage token={signInToken(c)} email={email} error={error} />, r.reason === "locked" ? 429 : 401);
  }
  setSessionCookie(c, r.token);
  return c.redirect("/app", 303);
});

appRouter.post("/sign-out", async (c) => {
  const who = c.get("who");
  if (who) await signOut(c.var.services, who);
  clearSessionCookie(c);
  return c.redirect("/app", 303);
});

appRouter.route("/", exportPages);
appRouter.route("/", ingestionPages);

appRouter.all("*", (c) => {
  const who = c.get("who");
  if (!who && c.req.method === "GET") return c.redirect("/app", 303);
  return c.html(<ErrorPage who={who} title="Page not found" message="There is no page at this address." />, 404);
});

/** JSON callers (the wizard's fetches) get the API's error envelope; people get a page. */
const wantsJson = (c: Context<PageEnv>) => (c.req.header("accept") ?? "").includes("application/json");

appRouter.onError((err, c) => {
  const who = c.get("who") ?? null;
  if (err instanceof SignInRequired) {
    if (wantsJson(c)) return c.json({ error: { code: "unauthorized", message: "Sign in again", request_id: c.get("requestId") } }, 401);
    return c.redirect("/app", 303);
  }
  if (err instanceof CsrfError) {
    const message = "This form expired or did not come from this site. Reload the page and try again.";
    if (wantsJson(c)) return c.json({ error: { code: "forbidden", message, request_id: c.get("requestId") } }, 403);
    return c.html(<ErrorPage who={who} title="Request refused" message={message} />, 403);
  }
  if (err instanceof NotAllowed) {
    const message = `Your role (${who?.user.role ?? "none"}) cannot do this; ask an admin of your organisation.`;
    if (wantsJson(c)) return c.json({ error: { code: "forbidden", message, request_id: c.get("requestId") } }, 403);
    return c.html(<ErrorPage who={who} title="Not allowed" message={message} />, 403);
  }
  if (err instanceof ApiError) {
    if (wantsJson(c)) {
      return c.json(
        { error: { code: err.code, message: err.message, request_id: c.get("requestId"), ...(err.details ? { details: err.details } : {}) } },
        err.status,
      );
    }
    const title = err.status === 404 ? "Not found" : err.status === 409 ? "Not possible now" : "Something is wrong";
    return c.html(<ErrorPage who={who} title={title} message={err.message} />, err.status);
  }
  console.error(JSON.stringify({ request_id: c.get("requestId"), error: String(err), stack: (err as Error).stack }));
  if (wantsJson(c)) return c.json({ error: { code: "internal_error", message: "Internal error", request_id: c.get("requestId") } }, 500);
  return c.html(<ErrorPage who={who} title="Something went wrong" message={`Internal error; quote ${c.get("requestId")} when reporting it.`} />, 500);
});

export { requireUser };
