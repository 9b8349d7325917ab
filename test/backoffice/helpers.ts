import { SELF } from "cloudflare:test";
import { ADMIN, BASE, call } from "../helpers";

/** Back-office helpers: invite a person, sign in through the form, act with the session. */

export async function invite(tenantId: string, email: string, role = "admin"): Promise<{ id: string; email: string; role: string; password: string }> {
  const r = await call("POST", `/api/1/admin/tenants/${tenantId}/users`, { headers: ADMIN, body: { email, role } });
  if (r.status !== 201) throw new Error(`invite: ${r.status} ${r.text}`);
  return r.json;
}

/** Cookies a response set, as `name=value` pairs. */
export function cookiesOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const i = (pair ?? "").indexOf("=");
    out[(pair ?? "").slice(0, i)] = (pair ?? "").slice(i + 1);
  }
  return out;
}

export const cookieHeader = (jar: Record<string, string>) =>
  Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");

export const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

/** Opens the sign-in page and posts the form; answers the response and the cookie jar. */
export async function postSignIn(email: string, password: string, opts: { base?: string; csrf?: boolean } = {}) {
  const base = opts.base ?? BASE;
  const page = await SELF.fetch(`${base}/app`);
  const jar = cookiesOf(page);
  const token = hidden(await page.text(), "_csrf") ?? "";
  const body = new URLSearchParams({ email, password, ...(opts.csrf === false ? {} : { _csrf: token }) });
  const res = await SELF.fetch(`${base}/app/sign-in`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookieHeader(jar) },
    body,
    redirect: "manual",
  });
  return { res, jar: { ...jar, ...cookiesOf(res) } };
}

export interface Session {
  cookie: string;
  csrf: string;
  get(path: string): Promise<Response>;
  form(path: string, fields?: Record<string, string>, opts?: { csrf?: string | null }): Promise<Response>;
  json(method: string, path: string, body: unknown, opts?: { csrf?: string | null }): Promise<{ status: number; json: any }>;
}

export async function signInAs(email: string, password: string): Promise<Session> {
  const { res, jar } = await postSignIn(email, password);
  if (res.status !== 303) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  const cookie = cookieHeader({ ferry_session: jar.ferry_session ?? "" });
  const list = await SELF.fetch(`${BASE}/app`, { headers: { Cookie: cookie } });
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(await list.text())?.[1];
  if (!csrf) throw new Error("no csrf token on the page");
  return {
    cookie,
    csrf,
    get: (path) => SELF.fetch(`${BASE}${path}`, { headers: { Cookie: cookie }, redirect: "manual" }),
    form: (path, fields = {}, opts = {}) => {
      const token = opts.csrf === undefined ? csrf : opts.csrf;
      return SELF.fetch(`${BASE}${path}`, {
        method: "POST",
        headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...fields, ...(token === null ? {} : { _csrf: token }) }),
        redirect: "manual",
      });
    },
    json: async (method, path, body, opts = {}) => {
      const token = opts.csrf === undefined ? csrf : opts.csrf;
      const res = await SELF.fetch(`${BASE}${path}`, {
        method,
        headers: {
          Cookie: cookie,
          "Content-Type": "application/json",
          Accept: "application/json",
          ...(token === null ? {} : { "X-CSRF-Token": token }),
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
  };
}
