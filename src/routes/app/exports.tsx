import * as z from "zod";
import { wizardCatalog } from "../../backoffice/catalog";
import * as svc from "../../backoffice/services";
import { runStats } from "../../backoffice/stats";
import { ExportBody } from "../../exports/definition";
import { ApiError, notFound } from "../../lib/errors";
import { validationError } from "../../lib/router";
import { DeliveryTarget } from "../../targets/config";
import type { Services } from "../../services";
import type { SignedIn } from "../../users/users";
import { pageRouter } from "./context";
import { ExportPage, RunsTable, runLine } from "./pages/export-page";
import { WizardPage } from "./pages/wizard";
import { noticeText, withNotice } from "./notices";
import { requireUser } from "./session";

/** Export pages: the wizard, the export page with its runs, and the list's actions. */
export const exportPages = pageRouter();

const back = (raw: unknown, fallback: string) =>
  typeof raw === "string" && /^\/app(\/|\?|$)/.test(raw) && !raw.startsWith("//") ? raw : fallback;


async function requireExport(s: Services, who: SignedIn, id: string) {
  const exp = await svc.getExport(s, who.tenant.id, id);
  // Another tenant's export is simply not there.
  if (!exp) throw notFound(`Export '${id}'`);
  return exp;
}

async function jsonBody(req: { json(): Promise<unknown> }): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new ApiError("bad_request", "Malformed JSON body");
  }
}

function parseDefinition(body: unknown): ExportBody {
  const parsed = ExportBody.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, "export definition");
  return parsed.data;
}

/** The definition as the wizard edits it: secrets masked like the API shows them. */
const editable = (exp: svc.ExportRecord) =>
  exp.definition
    ? svc.maskSecrets(ExportBody, exp.definition)
    : // A stored definition that no longer reads: start again from its name and model.
      { name: exp.name, model: exp.model };

// ---------------------------------------------------------------- wizard

exportPages.get("/exports/new", (c) => {
  const who = requireUser(c, "exports-manage");
  return c.html(<WizardPage who={who} catalog={wizardCatalog()} initial={null} editId={null} title="New export" />);
});

exportPages.get("/exports/:id/edit", async (c) => {
  const who = requireUser(c, "exports-manage");
  const exp = await requireExport(c.var.services, who, c.req.param("id"));
  if (exp.status === "active") {
    throw new ApiError("conflict", `${exp.name} is active; only drafts can be edited. Disable it first, or clone it.`);
  }
  return c.html(<WizardPage who={who} catalog={wizardCatalog()} initial={editable(exp)} editId={exp.id} title={`Edit ${exp.name}`} />);
});

exportPages.post("/exports", async (c) => {
  const who = requireUser(c, "exports-manage");
  const def = parseDefinition(await jsonBody(c.req));
  const exp = await svc.createExport(c.var.services, who.tenant.id, who.user.email, def);
  return c.json({ id: exp.id, status: exp.status, ...(exp.run ? { run: exp.run } : {}) }, 201);
});

exportPages.put("/exports/:id", async (c) => {
  const who = requireUser(c, "exports-manage");
  const body = await jsonBody(c.req);
  const def = parseDefinition(body);
  const publish = (body as { status?: unknown }).status === "active";
  const exp = await svc.updateExport(c.var.services, who.tenant.id, c.req.param("id"), def, publish);
  return c.json({ id: exp.id, status: exp.status, ...(exp.run ? { run: exp.run } : {}) }, 200);
});

exportPages.post("/exports/preview", async (c) => {
  const who = requireUser(c, "exports-manage");
  const def = parseDefinition(await jsonBody(c.req));
  return c.json(await svc.previewExport(c.var.services, { id: who.tenant.id, shard: who.tenant.shard }, def), 200);
});

exportPages.post("/targets/test", async (c) => {
  requireUser(c, "exports-manage");
  const parsed = DeliveryTarget.safeParse(await jsonBody(c.req));
  if (!parsed.success) throw validationError(parsed.error, "target");
  await svc.testTarget(c.var.services, parsed.data);
  return c.json({ ok: true }, 200);
});

// ---------------------------------------------------------------- export page

async function runLines(s: Services, who: SignedIn, exp: svc.ExportRecord, origin: string, limit: number) {
  const { runs, total } = await svc.listRuns(s, who.tenant.id, exp.id, { limit, offset: 0 });
  const lines = await Promise.all(runs.map(async (r) => runLine(await svc.runView(s, r, origin))));
  return { runs, lines, total };
}

exportPages.get("/exports/:id", async (c) => {
  const who = requireUser(c);
  const s = c.var.services;
  const exp = await requireExport(s, who, c.req.param("id"));
  const origin = new URL(c.req.url).origin;
  const { lines, total } = await runLines(s, who, exp, origin, 20);
  // Statistics over the last 100 runs (one page of the API's runs list at its largest).
  const { runs: recent } = await svc.listRuns(s, who.tenant.id, exp.id, { limit: 100, offset: 0 });
  const stats = runStats(recent, s.clock.seconds());
  return c.html(<ExportPage who={who} exp={exp} lines={lines.slice(0, 20)} total={total} stats={stats} notice={noticeText(c.req.query("notice"))} />);
});

/** The runs table alone, for the page's polling script. */
exportPages.get("/exports/:id/runs", async (c) => {
  const who = requireUser(c);
  const exp = await requireExport(c.var.services, who, c.req.param("id"));
  const { lines, total } = await runLines(c.var.services, who, exp, new URL(c.req.url).origin, 20);
  return c.html(<RunsTable who={who} exp={exp} lines={lines} total={total} />);
});

exportPages.post("/exports/:id/runs/:run_id/deliver", async (c) => {
  const who = requireUser(c, "exports-manage");
  const exp = await requireExport(c.var.services, who, c.req.param("id"));
  await svc.redeliver(c.var.services, who.tenant.id, exp.id, c.req.param("run_id"));
  return c.redirect(withNotice(`/app/exports/${exp.id}`, "redeliver"), 303);
});

exportPages.post("/exports/:id/run", async (c) => {
  const who = requireUser(c, "exports-manage");
  const id = c.req.param("id");
  await requireExport(c.var.services, who, id);
  try {
    await svc.createRun(c.var.services, who.tenant.id, id);
  } catch (err) {
    if (err instanceof ApiError && err.code === "conflict") return c.redirect(withNotice(`/app/exports/${id}`, "not-active"), 303);
    throw err;
  }
  return c.redirect(withNotice(`/app/exports/${id}`, "run"), 303);
});

// ---------------------------------------------------------------- list actions

const Flag = z.enum(["0", "1"]);

exportPages.post("/exports/:id/favourite", async (c) => {
  const who = requireUser(c, "exports-manage");
  const form = await c.req.parseBody();
  const on = Flag.catch("1").parse(form.favourite) === "1";
  await svc.setFavourite(c.var.services, who.tenant.id, c.req.param("id"), on);
  return c.redirect(back(form.back, "/app"), 303);
});

exportPages.post("/exports/:id/clone", async (c) => {
  const who = requireUser(c, "exports-manage");
  const copy = await svc.cloneExport(c.var.services, who.tenant.id, c.req.param("id"), who.user.email);
  return c.redirect(`/app/exports/${copy.id}/edit`, 303);
});

for (const [action, enabled] of [
  ["enable", true],
  ["disable", false],
] as const) {
  exportPages.post(`/exports/:id/${action}`, async (c) => {
    const who = requireUser(c, "exports-manage");
    const form = await c.req.parseBody();
    const exp = await svc.setEnabled(c.var.services, who.tenant.id, c.req.param("id"), enabled);
    return c.redirect(withNotice(back(form.back, `/app/exports/${exp.id}`), enabled ? "enabled" : "disabled"), 303);
  });
}

exportPages.post("/exports/:id/delete", async (c) => {
  const who = requireUser(c, "exports-manage");
  const form = await c.req.parseBody();
  const exp = await requireExport(c.var.services, who, c.req.param("id"));
  await svc.deleteExport(c.var.services, who.tenant.id, exp.id);
  const to = back(form.back, "/app");
  return c.redirect(withNotice(to.startsWith(`/app/exports/${exp.id}`) ? "/app" : to, "deleted"), 303);
});
