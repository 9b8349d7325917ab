import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { ApiError, notFound } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { NewSource } from "../../ingest/sources/config";
import { deleteSource, firstErrorsOfFiles, getSource, listSourceFiles, listSources, sourceStats } from "../../db/sources";
import { checkSource, createSource, sourceConfig, sourceView } from "../../ingest/sources/sources";
import type { Services } from "../../services";
import { checkTargetHost } from "../../targets/hosts";
import { TargetError } from "../../targets/types";

/** Buckets a tenant's files are ingested from (docs/sources.md). */
export const sourcesRouter = createRouter();
sourcesRouter.use("*", requireToken("sources-manage"));

const Source = z
  .object({
    id: z.string().openapi({ example: "src_0123456789abcdefghij" }),
    name: z.string(),
    config: z.record(z.string(), z.unknown()).openapi({ description: "the configuration, secret fields shown as \"****\"" }),
    webhook_url: z.string().nullable(),
    status: z.enum(["ok", "unreachable"]),
    last_error: z.string().nullable(),
    last_listed_at: z.number().int().nullable(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("Source");

const Stats = z
  .object({
    files: z.object({ pending: z.number().int(), processing: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
    rows_accepted: z.number().int(),
    rows_rejected: z.number().int(),
  })
  .openapi("SourceStats");

const CreateSource = NewSource.openapi("CreateSource");

const FileError = z.object({ file: z.string(), line: z.number().int(), field: z.string(), message: z.string() });
const SourceFileView = z
  .object({
    id: z.string(),
    key: z.string(),
    etag: z.string(),
    size: z.number().int(),
    model: z.string(),
    format: z.enum(["ndjson", "csv", "parquet"]),
    gzip: z.boolean(),
    status: z.enum(["pending", "processing", "completed", "failed"]),
    rows_accepted: z.number().int(),
    rows_rejected: z.number().int(),
    error: z.string().nullable(),
    errors: z.array(FileError).openapi({ description: "the first per-line errors (up to `errors_limit`), by line" }),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
  })
  .openapi("SourceFile");

const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ example: "src_0123456789abcdefghij" }) });

const refused = (err: TargetError, what: string) =>
  new ApiError("unprocessable", `${what}: ${err.message}`, { details: [{ path: "kind", message: err.kind }] });

async function requireSource(s: Services, tenantId: string, id: string) {
  const source = await getSource(s.db, tenantId, id);
  if (!source) throw notFound(`Source '${id}'`);
  return source;
}

sourcesRouter.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["sources"],
    summary: "Add a bucket to ingest from; refused unless it can be listed with the credentials given",
    security: [{ bearerAuth: [] }],
    request: { body: { required: true, content: { "application/json": { schema: CreateSource } } } },
    responses: {
      201: { description: "Created", content: { "application/json": { schema: Source } } },
      422: { description: "The storage could not be listed (error.message says why; error.details[0].message is the kind)" },
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    if (body.webhook_url) {
      try {
        await checkTargetHost(c.var.services.env, new URL(body.webhook_url).hostname);
      } catch (err) {
        if (err instanceof TargetError) throw refused(err, "webhook_url is not allowed");
        throw err;
      }
    }
    try {
      const row = await createSource(c.var.services, c.get("principal").tenantId, body);
      return c.json(sourceView(row), 201);
    } catch (err) {
      if (err instanceof TargetError) throw refused(err, "The source cannot be listed");
      throw err;
    }
  },
);

sourcesRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["sources"],
    summary: "The tenant's sources",
    security: [{ bearerAuth: [] }],
    responses: { 200: { description: "Sources", content: { "application/json": { schema: z.object({ sources: z.array(Source) }) } } } },
  }),
  async (c) => c.json({ sources: (await listSources(c.var.services.db, c.get("principal").tenantId)).map(sourceView) }, 200),
);

sourcesRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["sources"],
    summary: "One source, with its status (ok, or unreachable with the reason) and its files per status",
    security: [{ bearerAuth: [] }],
    request: { params: IdParam },
    responses: { 200: { description: "Source", content: { "application/json": { schema: Source.extend({ stats: Stats }) } } } },
  }),
  async (c) => {
    const tenantId = c.get("principal").tenantId;
    const source = await requireSource(c.var.services, tenantId, c.req.valid("param").id);
    return c.json({ ...sourceView(source), stats: await sourceStats(c.var.services.db, tenantId, source.id) }, 200);
  },
);

sourcesRouter.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags: ["sources"],
    summary: "Stop ingesting from a source (rows already ingested stay)",
    security: [{ bearerAuth: [] }],
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" } },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteSource(c.var.services.db, c.get("principal").tenantId, id))) throw notFound(`Source '${id}'`);
    return c.body(null, 204);
  },
);

sourcesRouter.openapi(
  createRoute({
    method: "post",
    path: "/{id}/test",
    tags: ["sources"],
    summary: "List the source once with its stored credentials",
    security: [{ bearerAuth: [] }],
    request: { params: IdParam },
    responses: {
      200: { description: "The storage could be listed", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
      422: { description: "It could not (error.message says why)" },
    },
  }),
  async (c) => {
    const s = c.var.services;
    const source = await requireSource(s, c.get("principal").tenantId, c.req.valid("param").id);
    try {
      await checkSource(s, await sourceConfig(s, source));
    } catch (err) {
      if (err instanceof TargetError) throw refused(err, "Connection test failed");
      throw err;
    }
    return c.json({ ok: true as const }, 200);
  },
);

const FilesQuery = z.object({
  status: z.enum(["pending", "processing", "completed", "failed"]).optional(),
  after: z.string().max(1100).optional().openapi({ description: "the `next` of the previous page" }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  errors_limit: z.coerce.number().int().min(0).max(1000).default(20),
});

sourcesRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}/files",
    tags: ["sources"],
    summary: "Files found in the source, by key: status, rows accepted and rejected, per-line errors",
    security: [{ bearerAuth: [] }],
    request: { params: IdParam, query: FilesQuery },
    responses: {
      200: {
        description: "Files",
        content: { "application/json": { schema: z.object({ files: z.array(SourceFileView), next: z.string().nullable() }) } },
      },
    },
  }),
  async (c) => {
    const s = c.var.services;
    const tenantId = c.get("principal").tenantId;
    const source = await requireSource(s, tenantId, c.req.valid("param").id);
    const q = c.req.valid("query");
    const files = await listSourceFiles(s.db, tenantId, source.id, { status: q.status, after: q.after, limit: q.limit });
    const errors = await firstErrorsOfFiles(s.db, tenantId, files.map((f) => f.id), q.errors_limit);
    return c.json(
      {
        files: files.map((f) => ({
          id: f.id,
          key: f.key,
          etag: f.etag,
          size: f.size,
          model: f.model,
          format: f.format,
          gzip: f.gzip === 1,
          status: f.status,
          rows_accepted: f.rows_accepted,
          rows_rejected: f.rows_rejected,
          error: f.error,
          errors: (errors.get(f.id) ?? []).map((e) => ({ file: f.key, ...e })),
          created_at: f.created_at,
          finished_at: f.finished_at,
        })),
        next: files.length === q.limit ? (files.at(-1)?.key ?? null) : null,
      },
      200,
    );
  },
);
