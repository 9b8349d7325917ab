import * as z from "zod";
import * as svc from "../../backoffice/services";
import { notFound } from "../../lib/errors";
import { pageRouter } from "./context";
import { IngestionPage } from "./pages/ingestion";
import { KeysPage } from "./pages/keys";
import { noticeText, withNotice } from "./notices";
import { requireUser } from "./session";

/** Ingestion pages: recent CSV uploads, bucket sources, API keys. */
export const ingestionPages = pageRouter();

/** Uploads and files shown, and per-line errors shown for each. */
const RECENT = 20;
const ERRORS_SHOWN = 50;

ingestionPages.get("/ingestion", async (c) => {
  const who = requireUser(c);
  const s = c.var.services;
  const uploads = await Promise.all(
    (await svc.recentIngestions(s, who.tenant.id, RECENT)).map(async (ing) => ({
      ing,
      errors: ing.rows_rejected > 0 ? await svc.ingestionErrors(s, who.tenant.id, ing.id, ERRORS_SHOWN) : [],
    })),
  );
  const sources = await Promise.all(
    (await svc.listSources(s, who.tenant.id)).map(async (row) => {
      const [stats, files] = await Promise.all([svc.sourceStats(s, who.tenant.id, row.id), svc.sourceFiles(s, who.tenant.id, row.id, RECENT)]);
      const errors = await svc.sourceFileErrors(s, who.tenant.id, files.filter((f) => f.rows_rejected > 0).map((f) => f.id), ERRORS_SHOWN);
      const view = svc.sourceView(row);
      return { source: { ...view, config: view.config as Record<string, unknown> }, stats, files: files.map((file) => ({ file, errors: errors.get(file.id) ?? [] })) };
    }),
  );
  return c.html(<IngestionPage who={who} uploads={uploads} sources={sources} />);
});

ingestionPages.get("/api-keys", async (c) => {
  const who = requireUser(c);
  const keys = await svc.listApiKeys(c.var.services, who.tenant.id);
  return c.html(<KeysPage who={who} keys={keys} notice={noticeText(c.req.query("notice"))} />);
});

const KeyName = z.string().trim().min(1, "Give the key a name").max(200, "At most 200 characters");

ingestionPages.post("/api-keys", async (c) => {
  const who = requireUser(c, "keys-manage");
  const form = await c.req.parseBody();
  const name = KeyName.safeParse(form.name);
  if (!name.success) {
    const keys = await svc.listApiKeys(c.var.services, who.tenant.id);
    return c.html(<KeysPage who={who} keys={keys} error={name.error.issues[0]?.message ?? "Invalid name"} />, 400);
  }
  const created = await svc.createApiKey(c.var.services, who.tenant.id, name.data);
  const keys = await svc.listApiKeys(c.var.services, who.tenant.id);
  // The key is in this response only: no redirect, so it is never in a URL or a later page.
  return c.html(<KeysPage who={who} keys={keys} created={{ id: created.id, name: name.data, apiKey: created.apiKey }} />, 201);
});

ingestionPages.post("/api-keys/:id/revoke", async (c) => {
  const who = requireUser(c, "keys-manage");
  if (!(await svc.revokeApiKey(c.var.services, who.tenant.id, c.req.param("id")))) throw notFound("API key");
  return c.redirect(withNotice("/app/api-keys", "revoked"), 303);
});
