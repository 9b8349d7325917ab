import * as z from "zod";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { MAX_PAGE, personaTraits, personaUsers } from "../../segments/reference";
import { envelope, send } from "../ingest/envelope";
import { Envelope } from "../ingest/openapi";

/**
 * The reference's persona endpoints, mounted at `/v1`: API key, `{ code, message, data }`.
 * `:segment_id` is `default` or a segment id; `:persona` a persona number or `all`.
 */
export const segmentsReferenceRouter = createRouter();

const Page = z
  .object({
    cursor: z.string().min(1).max(2000).optional().openapi({ description: "the `cursor` of the previous page" }),
    limit: z.coerce
      .number({ error: "limit must be a number" })
      .int("limit must be a whole number")
      .min(1, "limit must be at least 1")
      .max(MAX_PAGE, `limit must be at most ${MAX_PAGE}`)
      .optional()
      .openapi({ description: `ids per page (default and most: ${MAX_PAGE})` }),
  })
  .strict();

/** The page parameters, from the query string or a JSON body (the reference sends no body). */
async function readPage(c: Context<AppEnv>): Promise<z.infer<typeof Page>> {
  const raw = await c.req.text();
  let body: unknown = {};
  if (raw.trim()) {
    try {
      body = JSON.parse(raw);
    } catch (err) {
      throw new ApiError("bad_request", `Malformed JSON body: ${(err as Error).message}`);
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new ApiError("bad_request", 'The body must be a JSON object {"cursor", "limit"} or empty');
  }
  const parsed = Page.safeParse({ ...c.req.query(), ...(body as object) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = issue?.code === "unrecognized_keys" ? `Unknown parameter(s) ${issue.keys.join(", ")}; this endpoint takes cursor and limit` : (issue?.message ?? "invalid parameters");
    throw new ApiError("bad_request", message);
  }
  return parsed.data;
}

segmentsReferenceRouter.post("/segments/:segment_id/personas/:persona/users", requireApiKey(), async (c) => {
  const page = await readPage(c);
  const data = await personaUsers(c.var.services, c.get("principal"), c.req.param("segment_id"), c.req.param("persona"), page);
  return send(c, envelope(200, "", data));
});

segmentsReferenceRouter.post("/segments/:segment_id/personas/:persona/traits", requireApiKey(), async (c) => {
  const data = await personaTraits(c.var.services, c.get("principal").tenantId, c.req.param("segment_id"), c.req.param("persona"));
  return send(c, envelope(200, "", data));
});

const Params = z.object({
  segment_id: z.string().openapi({ description: "`default` or a segment id (GET /api/1/segments)", example: "default" }),
  persona: z.string().openapi({ description: "a persona number, from 1 (the largest), or `all`", example: "all" }),
});
const Answer = (what: string) => ({ description: what, content: { "application/json": { schema: Envelope } } });
for (const [path, summary, ok, body] of [
  ["users", "User ids of a persona (or `all`) of a segment; `data.cursor` beside `ids` when more remain", "`{ ids, cursor? }`", Page],
  ["traits", "Mean trait scores of a persona (or `all`) of a segment: category -> trait -> mean (0-100)", "category -> trait -> mean", undefined],
] as const) {
  segmentsReferenceRouter.openAPIRegistry.registerPath({
    method: "post",
    path: `/segments/{segment_id}/personas/{persona}/${path}`,
    tags: ["ingestion"],
    summary,
    security: [{ apiKey: [] }],
    request: { params: Params, ...(body ? { query: body, body: { required: false, content: { "application/json": { schema: body } } } } : {}) },
    responses: {
      200: Answer(ok),
      400: Answer("A persona that is neither a number nor `all`; a bad cursor or limit"),
      401: Answer("Missing or invalid API key"),
      404: Answer("Unknown segment, or a persona past the last one"),
      409: Answer("The segment has no personas yet (its first recompute was started), or the cursor is of an older result"),
    },
  });
}
