import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { getIngestion, listIngestionErrors } from "../../db/ingestions";
import { commitOnShard, tenantData } from "../../db/shards";
import { chunkSettings } from "../../ingest/csv/chunks";
import { startCsvIngestion } from "../../ingest/csv/ingestions";
import { type CsvRoute, checkHeader, csvModel } from "../../ingest/csv/models";
import { parseHeader } from "../../ingest/csv/parse";
import { UploadError, stageMultipartFile } from "../../ingest/csv/upload";
import { envelope, idempotent } from "../ingest/envelope";

/** CSV ingestion: `POST /v1/kpis/csv`, `POST /v1/survey-data/csv`, `POST /v1/user-traits/csv`, `GET /v1/ingestions/{id}`. */
export const ingestCsvRouter = createRouter();

/** Bytes of multipart framing (boundaries, part headers, other small fields) allowed on top of the file. */
const MULTIPART_SLACK = 64 * 1024;

/** Processing rate assumed by estimated_time_to_complete (measured end to end under `npm run dev`: ~430 KB/s). */
const BYTES_PER_SECOND = 400 * 1024;

const Started = z.object({
  code: z.literal(201),
  message: z.literal("ingestion has been started"),
  data: z.object({
    estimated_time_to_complete: z.number().int().openapi({ description: "Seconds, a rough estimate from the file size" }),
    ingestion_id: z.string().openapi({ description: "Poll GET /v1/ingestions/{id} with it" }),
  }),
});
const Failure = z.object({ code: z.number(), message: z.string(), data: z.unknown() });

for (const [route, noun] of [
  ["kpis", "KPIs"],
  ["survey-data", "custom survey data"],
  ["user-traits", "trait scores (user_traits)"],
] as const) {
  const path = `/v1/${route}/csv`;
  ingestCsvRouter.openAPIRegistry.registerPath({
    method: "post",
    path,
    tags: ["ingestion"],
    summary: `Upload ${noun} as a CSV file; it is ingested in the background`,
    description:
      "multipart/form-data with the file in the field `file`. The header row names the model's fields. " +
      "Answers once the file is staged; follow progress and per-line errors at GET /v1/ingestions/{id}. See docs/ingestion-csv.md.",
    security: [{ apiKey: [] }],
    request: {
      body: {
        required: true,
        content: { "multipart/form-data": { schema: z.object({ file: z.string().openapi({ format: "binary" }) }) } },
      },
    },
    responses: {
      201: { description: "Staged; ingestion started", content: { "application/json": { schema: Started } } },
      400: { description: "No file field, or a malformed multipart body", content: { "application/json": { schema: Failure } } },
      413: { description: "File larger than MAX_UPLOAD_BYTES", content: { "application/json": { schema: Failure } } },
      415: { description: "Not multipart/form-data", content: { "application/json": { schema: Failure } } },
      422: { description: "Empty file, or a header row that does not match the model", content: { "application/json": { schema: Failure } } },
    },
  });
  ingestCsvRouter.post(path, requireApiKey(), (c) => upload(c, route));
}

async function upload(c: Context<AppEnv>, route: CsvRoute) {
  const principal = c.get("principal");
  const s = c.var.services;
  const model = csvModel(route);
  const maxBytes = Number.parseInt(c.env.MAX_UPLOAD_BYTES, 10);
  const declared = Number(c.req.header("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes + MULTIPART_SLACK) {
    throw new ApiError("payload_too_large", `The upload is larger than the limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
  }

  const id = newId("ing");
  const key = `ingestions/${principal.tenantId}/${id}.csv`;
  let staged: Awaited<ReturnType<typeof stageMultipartFile>>;
  try {
    staged = await stageMultipartFile(c.req.raw, s.files, key, maxBytes);
  } catch (err) {
    if (!(err instanceof UploadError)) throw err;
    throw new ApiError(err.kind === "too_large" ? "payload_too_large" : err.kind, err.message);
  }
  const refuse = async (message: string) => {
    await s.files.delete(key);
    return new ApiError("unprocessable", message);
  };
  if (staged.bytes === 0) throw await refuse("The file is empty: expected a header row and at least one data row");
  const header = parseHeader(staged.head, staged.bytes <= staged.head.length);
  if (!header.ok) throw await refuse(header.message);
  const check = checkHeader(model, header.columns);
  if (!check.ok) throw await refuse(check.message);

  // The Idempotency-Key fingerprint is the file's digest (computed while streaming) and name,
  // so the same file replays its first answer and another file with the same key is 422.
  let started = false;
  try {
    const res = await idempotent(c, `${staged.sha256} ${staged.fileName ?? ""}`, async (store) => {
      started = true;
      const chunk = chunkSettings(c.env);
      await startCsvIngestion(s, {
        id,
        tenantId: principal.tenantId,
        model: model.name,
        fileKey: key,
        fileName: staged.fileName,
        fileBytes: staged.bytes,
        columns: check.columns,
        chunk,
        firstOffset: header.end,
        firstLine: header.nextLine,
      });
      const response = envelope(201, "ingestion has been started", {
        estimated_time_to_complete: Math.max(1, Math.ceil((staged.bytes - header.end) / BYTES_PER_SECOND)),
        ingestion_id: id,
      });
      await commitOnShard(tenantData(s.shards, principal), store(response));
      return response;
    });
    if (!started) await s.files.delete(key); // a replay: the first upload's file is the one ingested
    return res;
  } catch (err) {
    if (!started) await s.files.delete(key);
    throw err;
  }
}

const RowError = z.object({
  line: z.number().int().openapi({ description: "Line of the file the rejected record starts on (the header is line 1)" }),
  field: z.string().openapi({ description: "The column the error is about; empty for the whole record" }),
  message: z.string(),
});
const Status = z.object({
  id: z.string(),
  model: z.string(),
  status: z.enum(["pending", "processing", "completed", "failed"]),
  file_name: z.string().nullable(),
  file_bytes: z.number().int(),
  bytes_processed: z.number().int(),
  progress: z.number().openapi({ description: "0..1, share of the file's bytes processed" }),
  rows_accepted: z.number().int(),
  rows_rejected: z.number().int(),
  error: z.string().nullable().openapi({ description: "Why the whole ingestion stopped (status failed)" }),
  errors: z.array(RowError).openapi({ description: "Per-row errors ordered by line (the first 1000 are kept)" }),
  errors_next_after_line: z.number().int().nullable().openapi({ description: "Pass as errors_after_line for the next page" }),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});

const iso = (s: number) => new Date(s * 1000).toISOString();

ingestCsvRouter.openapi(
  createRoute({
    method: "get",
    path: "/v1/ingestions/{id}",
    tags: ["ingestion"],
    summary: "Status of a CSV ingestion: rows accepted and rejected, and per-row errors with line numbers",
    security: [{ apiKey: [] }],
    middleware: [requireApiKey()] as const,
    request: {
      params: z.object({ id: z.string().openapi({ example: "ing_0123456789abcdefghij" }) }),
      query: z.object({
        errors_after_line: z.coerce.number().int().min(0).default(0),
        errors_limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: {
      200: {
        description: "Ingestion",
        content: { "application/json": { schema: z.object({ code: z.literal(200), message: z.string(), data: Status }) } },
      },
      404: { description: "No such ingestion for this API key's tenant", content: { "application/json": { schema: Failure } } },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const s = c.var.services;
    const tenantId = c.get("principal").tenantId;
    const ing = await getIngestion(s.db, tenantId, id);
    if (!ing) throw notFound(`Ingestion ${id}`);
    const errors = await listIngestionErrors(s.db, tenantId, ing.id, q.errors_after_line, q.errors_limit + 1);
    const more = errors.length > q.errors_limit;
    let page = errors.slice(0, q.errors_limit);
    // A page ends on a whole line, so the cursor (the last line) never skips errors of that line.
    const lastLine = page[page.length - 1]?.line;
    if (more && errors[q.errors_limit]?.line === lastLine && page[0]?.line !== lastLine) page = page.filter((x) => x.line !== lastLine);
    return c.json(
      {
        code: 200 as const,
        message: `ingestion is ${ing.status}`,
        data: {
          id: ing.id,
          model: ing.model,
          status: ing.status,
          file_name: ing.file_name,
          file_bytes: ing.file_bytes,
          bytes_processed: ing.next_offset,
          progress: ing.status === "completed" ? 1 : ing.file_bytes ? Math.round((ing.next_offset / ing.file_bytes) * 1000) / 1000 : 0,
          rows_accepted: ing.rows_accepted,
          rows_rejected: ing.rows_rejected,
          error: ing.error,
          errors: page,
          errors_next_after_line: more ? (page[page.length - 1]?.line ?? null) : null,
          created_at: iso(ing.created_at),
          finished_at: ing.finished_at ? iso(ing.finished_at) : null,
        },
      },
      200,
    );
  },
);
