import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { ExportBody } from "../../exports/definition";
import {
  CATEGORIES,
  cloneExport,
  createExport,
  deleteExport,
  type ExportRecord,
  listExports,
  requireExport,
  setEnabled,
  setFavourite,
  updateExport,
} from "../../definitions";
import { createRouter, validationError } from "../../lib/router";
import { maskSecrets } from "../../lib/secrets";
import { requireToken } from "../../middleware/auth";
import { readReplica } from "../../middleware/d1-session";

const LastRun = z
  .object({
    id: z.string(),
    status: z.enum(["pending", "processing", "finished", "failed"]),
    rows: z.number().int(),
    bytes: z.number().int(),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
  })
  .openapi("ExportLastRun");

export const ExportDetail = ExportBody.extend({
  id: z.string().openapi({ example: "exp_0123456789abcdefghij" }),
  status: z.enum(["draft", "active", "disabled"]),
  favourite: z.boolean(),
  created_by: z.string(),
  created_at: z.number().int(),
  updated_at: z.number().int(),
  next_run_at: z.number().int().nullable().openapi({ description: "next scheduled run, epoch seconds (UTC); null when it only runs on request" }),
  schedule_error: z
    .string()
    .nullable()
    .openapi({ description: "why the scheduler stopped running this export (next_run_at is null then); saving or enabling it clears it" }),
  last_run: LastRun.nullable(),
  run: z
    .object({ id: z.string(), status: z.enum(["pending", "processing", "finished", "failed"]) })
    .optional()
    .openapi({ description: "the run this call started: publishing (creating active, publishing a draft, enabling) a definition whose schedule is `now` runs it at once" }),
}).openapi("Export");

const ExportItem = z
  .object({
    id: z.string(),
    name: z.string(),
    created_at: z.number().int(),
    created_by: z.string(),
    model: z.string(),
    target: z.string().openapi({ description: "target type: download, s3, ftp, ..." }),
    schedule: z.string().openapi({ description: "schedule type: now, manual, once, daily, weekly, monthly, operation_end" }),
    status: z.enum(["draft", "active", "disabled"]),
    favourite: z.boolean(),
    last_run: LastRun.nullable(),
    file_size: z.number().int().nullable().openapi({ description: "bytes of the last run's file; null before the first run" }),
  })
  .openapi("ExportListItem");

const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ example: "exp_0123456789abcdefghij" }) });

const ListQuery = z.object({
  q: z.string().max(100).optional().openapi({ description: "search: part of the name (case-insensitive for ASCII)" }),
  category: z.enum(CATEGORIES).default("all"),
  sort: z.enum(["name", "created_at"]).default("created_at"),
  order: z.enum(["asc", "desc"]).optional().openapi({ description: "default: asc for name, desc for created_at" }),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(20),
});

const CloneBody = z.object({ name: ExportBody.shape.name.optional() });

/**
 * The stored definition with its secret fields shown as "****"; one that no longer reads
 * (schedule_error says why) shows its name and model only.
 */
const definitionOf = (r: ExportRecord) => (r.definition ? maskSecrets(ExportBody, r.definition) : ({ name: r.name, model: r.model } as ExportBody));

export const detail = (r: ExportRecord) => ({
  ...definitionOf(r),
  id: r.id,
  name: r.name,
  status: r.status,
  favourite: r.favourite,
  created_by: r.createdBy,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
  next_run_at: r.nextRunAt,
  schedule_error: r.scheduleError,
  last_run: r.lastRun,
  ...(r.run ? { run: r.run } : {}),
});

const item = (r: ExportRecord) => ({
  id: r.id,
  name: r.name,
  created_at: r.createdAt,
  created_by: r.createdBy,
  model: r.model,
  target: r.definition?.target.type ?? "unknown",
  schedule: r.definition?.schedule.type ?? "unknown",
  status: r.status,
  favourite: r.favourite,
  last_run: r.lastRun,
  file_size: r.lastRun ? r.lastRun.bytes : null,
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const security = [{ bearerAuth: [] }];
const tags = ["exports"];
const principal = (c: Context<AppEnv>) => c.get("principal");
const services = (c: Context<AppEnv>) => c.get("services");

export const exportsRouter = createRouter();
exportsRouter.use("*", requireToken("exports-manage"));

exportsRouter.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    security,
    summary: "Create an export definition",
    description: "Validated against the model catalog; each error names the offending part in `details`.",
    request: { body: { content: { "application/json": { schema: ExportBody } }, required: true } },
    responses: { 201: json(ExportDetail, "Created") },
  }),
  async (c) => {
    const p = principal(c);
    return c.json(detail(await createExport(services(c), p.tenantId, p.subject, c.req.valid("json"))), 201);
  },
);

exportsRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    security,
    summary: "List export definitions",
    middleware: [readReplica()] as const,
    description: "Search by name, sort by name or created_at, filter by category, paginate.",
    request: { query: ListQuery },
    responses: {
      200: json(
        z.object({ exports: z.array(ExportItem), total: z.number().int(), page: z.number().int(), per_page: z.number().int() }),
        "One page of exports",
      ),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const order = q.order ?? (q.sort === "name" ? "asc" : "desc");
    const { items, total } = await listExports(services(c), principal(c).tenantId, {
      ...(q.q ? { q: q.q } : {}),
      category: q.category,
      sort: q.sort,
      order,
      page: q.page,
      perPage: q.per_page,
    });
    return c.json({ exports: items.map(item), total, page: q.page, per_page: q.per_page }, 200);
  },
);

exportsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    security,
    summary: "Read an export definition",
    middleware: [readReplica()] as const,
    request: { params: IdParam },
    responses: { 200: json(ExportDetail, "The export") },
  }),
  async (c) => c.json(detail(await requireExport(services(c), principal(c).tenantId, c.req.valid("param").id)), 200),
);

exportsRouter.openapi(
  createRoute({
    method: "put",
    path: "/{id}",
    tags,
    security,
    summary: "Replace the definition of a draft export",
    description: "Only drafts (and disabled exports) can be edited; an active export answers 409 — disable it first.",
    request: { params: IdParam, body: { content: { "application/json": { schema: ExportBody } }, required: true } },
    responses: { 200: json(ExportDetail, "Updated") },
  }),
  async (c) => {
    const def = c.req.valid("json");
    const raw = await c.req.json<Record<string, unknown>>();
    // The body's `status` defaults to active; only an explicit "active" publishes a draft.
    const publish = raw.status === "active";
    return c.json(detail(await updateExport(services(c), principal(c).tenantId, c.req.valid("param").id, def, publish)), 200);
  },
);

exportsRouter.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags,
    security,
    summary: "Change some top-level parts of a draft export",
    description: "The given top-level keys replace the stored ones; the result is validated as a whole. Drafts only (409 otherwise).",
    request: {
      params: IdParam,
      body: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, required: true },
    },
    responses: { 200: json(ExportDetail, "Updated") },
  }),
  async (c) => {
    const { tenantId } = principal(c);
    const { id } = c.req.valid("param");
    const cur = await requireExport(services(c), tenantId, id);
    const patch = c.req.valid("json");
    const merged = ExportBody.safeParse({ ...(cur.definition ?? {}), ...patch });
    if (!merged.success) throw validationError(merged.error, "body");
    return c.json(detail(await updateExport(services(c), tenantId, id, merged.data, patch.status === "active")), 200);
  },
);

exportsRouter.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags,
    security,
    summary: "Delete an export definition",
    description: "Its past runs stay readable by id until they expire.",
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" } },
  }),
  async (c) => {
    await deleteExport(services(c), principal(c).tenantId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

exportsRouter.openapi(
  createRoute({
    method: "post",
    path: "/{id}/clone",
    tags,
    security,
    summary: "Clone an export as a new draft",
    description: "The copy is named `<name>-copy` (or `-copy-2`, ...) unless a name is given.",
    request: { params: IdParam, body: { content: { "application/json": { schema: CloneBody } }, required: false } },
    responses: { 201: json(ExportDetail, "The copy") },
  }),
  async (c) => {
    const p = principal(c);
    const text = await c.req.text();
    let name: string | undefined;
    if (text.trim()) {
      const parsed = CloneBody.safeParse(JSON.parse(text));
      if (!parsed.success) throw validationError(parsed.error, "body");
      name = parsed.data.name;
    }
    return c.json(detail(await cloneExport(services(c), p.tenantId, c.req.valid("param").id, p.subject, name)), 201);
  },
);

for (const [method, favourite] of [
  ["put", true],
  ["delete", false],
] as const) {
  exportsRouter.openapi(
    createRoute({
      method,
      path: "/{id}/favourite",
      tags,
      security,
      summary: favourite ? "Mark an export as favourite" : "Remove an export from the favourites",
      request: { params: IdParam },
      responses: { 200: json(ExportDetail, "The export") },
    }),
    async (c) => c.json(detail(await setFavourite(services(c), principal(c).tenantId, c.req.valid("param").id, favourite)), 200),
  );
}

for (const [action, enabled] of [
  ["enable", true],
  ["disable", false],
] as const) {
  exportsRouter.openapi(
    createRoute({
      method: "post",
      path: `/{id}/${action}`,
      tags,
      security,
      summary: enabled ? "Enable an export (active: scheduled runs happen)" : "Disable an export (no scheduled runs; editable again)",
      request: { params: IdParam },
      responses: { 200: json(ExportDetail, "The export") },
    }),
    async (c) => c.json(detail(await setEnabled(services(c), principal(c).tenantId, c.req.valid("param").id, enabled)), 200),
  );
}
