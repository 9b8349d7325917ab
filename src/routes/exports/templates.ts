import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createFromTemplate, listTemplates } from "../../definitions/templates";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { detail, ExportDetail } from "./index";

/**
 * Templates ("rapid exports"): `GET /api/1/exports/templates` lists them, `POST
 * /api/1/exports/templates/:id` creates a definition from one (src/definitions/templates.ts).
 * Mounted before the definitions router, so `templates` is never read as an export id.
 */
export const templatesRouter = createRouter();

const Parameter = z.object({ name: z.string(), type: z.string(), required: z.boolean(), description: z.string() });
const TemplateInfo = z
  .object({
    id: z.string().openapi({ example: "game-winners" }),
    name: z.string(),
    family: z.string().openapi({ description: "model family: loyalty, events" }),
    model: z.string(),
    description: z.string(),
    parameters: z.array(Parameter),
  })
  .openapi("ExportTemplate");

const security = [{ bearerAuth: [] }];

templatesRouter.openapi(
  createRoute({
    method: "get",
    path: "/templates",
    tags: ["exports"],
    summary: "List export templates (rapid exports)",
    description: "Ready definitions per model family, each with the parameters POST /api/1/exports/templates/{id} takes.",
    security,
    middleware: [requireToken("exports-manage")] as const,
    responses: { 200: { description: "The templates", content: { "application/json": { schema: z.object({ templates: z.array(TemplateInfo) }) } } } },
  }),
  (c) => c.json({ templates: listTemplates() }, 200),
);

templatesRouter.openapi(
  createRoute({
    method: "post",
    path: "/templates/{id}",
    tags: ["exports"],
    summary: "Create an export definition from a template",
    description:
      "The body holds the template's parameters (see GET /api/1/exports/templates); unknown or invalid ones answer 400 naming them. " +
      "The definition is created as by POST /api/1/exports, and answered the same way (with `run` when it runs at once).",
    security,
    middleware: [requireToken("exports-manage")] as const,
    request: {
      params: z.object({ id: z.string().min(1).max(64).openapi({ example: "game-winners" }) }),
      body: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, required: false },
    },
    responses: { 201: { description: "Created", content: { "application/json": { schema: ExportDetail } } } },
  }),
  async (c) => {
    const p = c.get("principal");
    const text = await c.req.text();
    let params: unknown = {};
    if (text.trim()) params = c.req.valid("json");
    return c.json(detail(await createFromTemplate(c.var.services, p.tenantId, p.subject, c.req.valid("param").id, params)), 201);
  },
);
