import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Locator, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, devVars, startDevServer } from "./dev-server";

/**
 * The back office in a real Chromium (Debian's `chromium` package, driven by playwright-core),
 * against the real `npm run dev` stack (test/node/dev-server.ts: scripts/dev.mjs on a free port,
 * wrangler dev with D1, R2 and the queue on this machine). Pages are driven by their accessible names (the contract in docs/backoffice.md).
 *
 * Screenshots of every screen go to docs/screenshots/ when SCREENSHOTS=1 (`npm run screenshots`),
 * and to a temporary folder otherwise, so a test run leaves the work tree alone.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADMIN_TOKEN = devVars().ADMIN_TOKEN ?? "dev-admin-token";
const SHOTS = process.env.SCREENSHOTS === "1" ? "docs/screenshots" : mkdtempSync(join(tmpdir(), "ferry-shots-"));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const state = mkdtempSync(join(tmpdir(), "ferry-bo-"));
let dev: DevServer;
let base = "";
let browser: Browser;

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${dev.output().slice(-4000)}`);
    await sleep(500);
  }
}

async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body && !(body instanceof FormData) ? { "Content-Type": "application/json" } : {}) },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function tenantWithPeople(name: string) {
  const tenant = await api("POST", "/api/1/admin/tenants", ADMIN_TOKEN, { name });
  const user = await api("POST", `/api/1/admin/tenants/${tenant.id}/users`, ADMIN_TOKEN, { email: `editor@${name}.example`, role: "admin" });
  const client = await api("POST", `/api/1/admin/tenants/${tenant.id}/clients`, ADMIN_TOKEN, { name: "api", permissions: ["exports-manage", "ingest"] });
  const token = (
    await fetch(`${base}/api/1/oauth2/access_token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret }),
    }).then((r) => r.json() as Promise<{ access_token: string }>)
  ).access_token;
  const key = (await api("POST", `/api/1/admin/tenants/${tenant.id}/api-keys`, ADMIN_TOKEN, { name: "seed" })).api_key as string;
  return { tenant, user, token, key };
}

/** Waits until the locator's (first) element is visible; playwright-core has no expect of its own. */
async function seen(loc: Locator, timeout = 15_000): Promise<Locator> {
  await loc.first().waitFor({ state: "visible", timeout });
  return loc.first();
}
async function textOf(loc: Locator, timeout = 15_000): Promise<string> {
  return (await (await seen(loc, timeout)).textContent()) ?? "";
}
/** Submits a search and waits for the list page it leads to. */
async function search(page: Page, q: string) {
  await page.getByLabel("Search exports").fill(q);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/app" && (u.searchParams.get("q") ?? "") === q),
    page.getByLabel("Search exports").press("Enter"),
  ]);
  await page.waitForLoadState("domcontentloaded");
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${base}/app`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

let acme: Awaited<ReturnType<typeof tenantWithPeople>>;
let other: Awaited<ReturnType<typeof tenantWithPeople>>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mkdirSync(SHOTS, { recursive: true });
  dev = await startDevServer({ persistTo: state });
  base = dev.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

  acme = await tenantWithPeople("acme");
  other = await tenantWithPeople("globex");
  // 30 actions for acme over the last days, and a CSV upload with two bad lines.
  const day = (n: number) => new Date(Date.now() - n * 3600_000).toISOString().slice(0, 19).replace("T", " ");
  const actions = Array.from({ length: 30 }, (_, i) => ({
    timestamp: day(i),
    user_id: `player-${i % 7}`,
    action_id: `a-${i}`,
    action_name: i % 3 === 0 ? "level_up" : "buy_item",
  }));
  await api("POST", "/v1/actions", acme.key, { actions });
  const csv = "timestamp,user_id,kpi_id,value\n2026-11-20 00:00:00,p1,sessions,3\n2026-11-20 00:00:00,p2,sessions,not-a-number\n2026-11-20 00:00:00,p3,,1\n2026-11-20 00:00:00,p4,sessions,5\n";
  const fd = new FormData();
  fd.append("file", new File([csv], "kpis-2026-11-20.csv", { type: "text/csv" }));
  await api("POST", "/v1/kpis/csv", acme.key, fd);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  rmSync(state, { recursive: true, force: true });
  if (process.env.SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
}, 30_000);

describe("back office in Chromium", () => {
  it("signs in, creates an export through the three wizard steps, finds it, runs it and downloads the API's bytes", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => m.type() === "error" && !m.text().includes("status of 4") && problems.push(m.text()));

    await page.goto(`${base}/app`);
    await shot(page, "01-sign-in");
    await signIn(page, acme.user.email, acme.user.password);
    await seen(page.getByRole("link", { name: "New export" }));
    await shot(page, "02-exports-empty");

    // Step 1: name and model, with the model's fields from the catalog.
    await page.getByRole("link", { name: "New export" }).click();
    await page.getByLabel("Name", { exact: true }).fill("daily-level-ups");
    await page.getByRole("radio", { name: "User actions" }).check();
    await seen(page.getByRole("cell", { name: "action_name" }));
    await shot(page, "03-wizard-model");
    await page.getByRole("button", { name: "Next" }).click();

    // Step 2: fields (one renamed, one with a replacement) and a filter.
    for (const f of ["timestamp", "user_id", "action_name"]) {
      await page.getByLabel("Field to add").selectOption(f);
      await page.getByRole("button", { name: "Add field" }).click();
    }
    await page.getByLabel("To (column header)").nth(0).fill("when");
    await page.getByRole("button", { name: "Add replacement" }).nth(2).click();
    await page.getByLabel("Value to replace").fill("level_up");
    await page.getByLabel("New value").fill("Level up!");
    await page.getByRole("button", { name: "Add filter set (OR)" }).click();
    await page.getByLabel("Field", { exact: true }).selectOption("timestamp");
    await page.getByLabel("Operator").selectOption("gte");
    await page.getByLabel("Value", { exact: true }).fill("date:today -7 days");
    await shot(page, "04-wizard-fields-filters");
    await page.getByRole("button", { name: "Next" }).click();

    // Step 3: file and delivery, with the live preview of the first rows and the count.
    await page.getByLabel("Archive").selectOption("none");
    await seen(page.getByText("30 rows"), 20_000);
    expect(await textOf(page.getByLabel("File preview"))).toContain("when,user_id,action_name");
    expect(await textOf(page.getByLabel("File preview"))).toContain("Level up!");
    await page.getByLabel("Target").selectOption("sftp");
    await seen(page.getByRole("button", { name: "Test connection" }));
    await page.getByLabel("Target").selectOption("download");
    await shot(page, "05-wizard-file-preview");
    await page.getByRole("button", { name: "Publish" }).click();

    // The export page: run it and watch it finish.
    await seen(page.getByRole("heading", { name: /daily-level-ups/ }));
    const exportId = new URL(page.url()).pathname.split("/").pop() as string;
    await page.getByRole("button", { name: "Run now" }).click();
    const download = page.getByRole("link", { name: "Download" }).first();
    await seen(download, 240_000);
    await shot(page, "06-export-page");
    const href = (await download.getAttribute("href")) as string;
    const runId = new URL(href, base).pathname.split("/").pop();
    const [file] = await Promise.all([page.waitForEvent("download"), download.click()]);
    const browserBytes = readFileSync((await file.path()) as string);

    // The same run through the API: its download is byte for byte what the browser got.
    const finished = await api("GET", `/api/1/exports/${exportId}/runs/${runId}`, acme.token);
    expect(finished.status).toBe("finished");
    const apiBytes = Buffer.from(await (await fetch(finished.download_url.replace(/^https?:\/\/[^/]+/, base))).arrayBuffer());
    expect(apiBytes.length).toBeGreaterThan(0);
    expect(browserBytes.equals(apiBytes)).toBe(true);
    expect(apiBytes.toString("utf8").split("\n")[0]).toBe("when,user_id,action_name");
    expect(apiBytes.toString("utf8")).toContain("Level up!");
    const api1 = await api("GET", `/api/1/exports/${exportId}`, acme.token);
    expect(api1.created_by).toBe(acme.user.email);

    // Find it by search.
    await page.getByRole("link", { name: "Exports", exact: true }).click();
    await search(page, "level-up");
    await seen(page.getByRole("link", { name: "daily-level-ups" }));
    await search(page, "nothing-like-it");
    expect(await page.getByRole("link", { name: "daily-level-ups" }).count()).toBe(0);
    await search(page, "");
    await shot(page, "07-exports-list");

    // Ingestion and API keys.
    await page.getByRole("link", { name: "Ingestion" }).click();
    await seen(page.getByText("kpis-2026-11-20.csv"));
    await until("the CSV upload to finish", 60_000, async () => {
      await page.reload();
      return (await page.getByText("completed").count()) > 0 ? true : undefined;
    });
    await page.getByText("2 rejected lines").click();
    expect(await textOf(page.getByRole("cell", { name: "kpi_id" }))).toBe("kpi_id");
    expect(await page.getByRole("cell", { name: "value", exact: true }).count()).toBe(1);
    await shot(page, "08-ingestion");
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByLabel("Key name").fill("game-server-eu");
    await page.getByRole("button", { name: "Create key" }).click();
    await seen(page.getByText("Copy it now"));
    await shot(page, "09-api-keys");

    expect(problems).toEqual([]);
    await ctx.close();
  }, 480_000);

  it("shows a validation error at its field, gives another tenant's export as a 404 page, and refuses a CSRF-less POST", async () => {
    const theirs = await api("POST", "/api/1/exports", other.token, { name: "globex-only", model: "actions", all_fields: true, status: "draft" });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    await signIn(page, acme.user.email, acme.user.password);

    await page.getByRole("link", { name: "New export" }).click();
    await page.getByLabel("Name", { exact: true }).fill("not a valid name!");
    await page.getByRole("radio", { name: "Logins" }).check();
    await page.getByRole("button", { name: "Save draft" }).click();
    const nameError = page.locator("#err-name");
    await seen(nameError);
    expect(await textOf(nameError)).toContain("Letters, digits");
    expect(await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await seen(page.getByText("Please correct the marked fields."));
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator; innerText is what is rendered, without the page's JSON data block
    expect(await page.locator("main").innerText()).not.toContain('{"');
    await shot(page, "10-wizard-validation-error");

    const res = await page.goto(`${base}/app/exports/${theirs.id}`);
    expect(res?.status()).toBe(404);
    await seen(page.getByRole("heading", { name: "Not found" }));
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator; innerText is what is rendered, without the page's JSON data block
    expect(await page.locator("main").innerText()).not.toContain("globex-only");

    // The session cookie goes along (same browser context), the CSRF token does not.
    const mine = await api("POST", "/api/1/exports", acme.token, { name: "csrf-victim", model: "actions", all_fields: true, status: "draft" });
    const forged = await page.request.post(`${base}/app/exports/${mine.id}/delete`, { form: { back: "/app" }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect((await api("GET", `/api/1/exports/${mine.id}`, acme.token)).name).toBe("csrf-victim");
    await ctx.close();
  }, 120_000);

  it("editing a draft in the wizard and saving it keeps every part of the definition", async () => {
    const def = {
      name: "edit-me",
      model: "logins",
      status: "draft",
      timezone: "Europe/Paris",
      fields: [{ from: "user_id", to: "uid", default: "none", replace: [{ value: "a", with: "b" }] }, { from: "level" }],
      filters: [
        [
          { field: "level", op: "between", value: [1, 5] },
          { field: "country", op: "in", value: ["FR", "DE"] },
        ],
        [{ field: "timestamp", op: "gte", value: "date:today -1 days" }],
      ],
      format: { type: "csv", delimiter: ";" },
      compression: "gzip",
      schedule: { type: "weekly", days: [1, 5], time: "07:30" },
      target: { type: "sftp", host: "files.example.com", username: "bob", password: "s3cret" },
    };
    const created = await api("POST", "/api/1/exports", acme.token, def);
    const before = await api("GET", `/api/1/exports/${created.id}`, acme.token);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    await signIn(page, acme.user.email, acme.user.password);
    await page.goto(`${base}/app/exports/${created.id}/edit`);
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("edit-me");
    await page.getByRole("button", { name: "Next" }).click();
    expect(await page.getByLabel("Time zone").inputValue()).toBe("Europe/Paris");
    await page.getByRole("button", { name: "Next" }).click();
    expect(await page.getByLabel("Target").inputValue()).toBe("sftp");
    // The stored password is never sent to the page: it shows the API's mask, which keeps it.
    expect(await page.getByLabel("Password").inputValue()).toBe("****");
    await Promise.all([page.waitForURL(/notice=draft/), page.getByRole("button", { name: "Save draft" }).click()]);
    const after = await api("GET", `/api/1/exports/${created.id}`, acme.token);
    const { updated_at: _a, format: fa, ...restBefore } = before;
    const { updated_at: _b, format: fb, ...restAfter } = after;
    expect(restAfter).toEqual(restBefore);
    // The wizard spells out the format's defaults; what they mean is unchanged.
    expect(fb).toMatchObject({ ...fa, enclosure: '"', newline: "\n", header: true });
    await ctx.close();
  }, 120_000);

  it("locks an account after repeated wrong passwords", async () => {
    const u = await api("POST", `/api/1/admin/tenants/${acme.tenant.id}/users`, ADMIN_TOKEN, { email: "forgetful@acme.example", role: "viewer" });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    for (let i = 0; i < 5; i++) await signIn(page, u.email, `wrong-${i}`);
    expect(await textOf(page.getByRole("alert"))).toContain("locked");
    await signIn(page, u.email, u.password);
    expect(await textOf(page.getByRole("alert"))).toContain("locked");
    expect(await page.getByRole("link", { name: "New export" }).count()).toBe(0);
    await ctx.close();
  }, 120_000);
});
