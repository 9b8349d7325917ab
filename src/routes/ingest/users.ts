import * as z from "zod";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { assessmentStatus } from "../../ingest/batch/users";
import { getUserDeletionView, requestUserDeletion } from "../../ingest/deletion";
import { commitOnShard, tenantData } from "../../db/shards";
import { envelope, idempotent, readJson, send } from "./envelope";
import { documentRoute } from "./openapi";

const UserId = z.string({ error: '"id" must be a string' }).min(1, '"id" must not be empty').max(4096);
const DeleteBody = z.object({ id: UserId }).strict();

export const usersRouter = createRouter();

/**
 * Records a request to delete every row of one end user of the tenant (all models); a background
 * chain deletes them (src/ingest/deletion.ts). Answers 202 with the request to follow.
 */
usersRouter.post("/user-data", requireApiKey(), async (c) => {
  const { raw, body } = await readJson(c);
  const parsed = DeleteBody.safeParse(body);
  if (!parsed.success) {
    throw new ApiError("bad_request", `The body must be {"id": "<user id>"}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  const id = parsed.data.id;
  return idempotent(c, raw, async (store) => {
    const s = c.var.services;
    const request = await requestUserDeletion(s, c.get("principal"), id);
    const res = envelope(
      202,
      `deletion of the data of ${id} has been requested; follow it at GET /v1/user-data/${request.request_id}`,
      request,
    );
    await commitOnShard(tenantData(s.shards, c.get("principal")), store(res));
    return res;
  });
});

/** A deletion request of the tenant: status, rows deleted per model, progress. */
usersRouter.get("/user-data/:request_id", requireApiKey(), async (c) => {
  const found = await getUserDeletionView(c.var.services, c.get("principal").tenantId, c.req.param("request_id"));
  if (!found) throw new ApiError("not_found", `No user-data deletion request '${c.req.param("request_id")}' for this API key's tenant`);
  return send(c, envelope(200, "", found));
});

/** `{ completed, completed_at }` from the tenant's survey responses. */
usersRouter.get("/assessment/user/status", requireApiKey(), async (c) => {
  const id = UserId.safeParse(c.req.query("id"));
  if (!id.success) throw new ApiError("bad_request", "Query parameter id is required: /v1/assessment/user/status?id=<user id>");
  return send(c, envelope(200, "", await assessmentStatus(c.var.services, c.get("principal"), id.data)));
});

documentRoute(usersRouter, { method: "post", path: "/user-data", summary: "Request the deletion of every row of one user (all models); runs in the background", body: DeleteBody, ok: 202 });
documentRoute(usersRouter, {
  method: "get",
  path: "/user-data/{request_id}",
  summary: "Status of a user-data deletion request: pending, running (with progress), done (rows deleted per model) or failed",
  params: z.object({ request_id: z.string().openapi({ description: "The request_id answered by POST /v1/user-data (udr_...)" }) }),
  ok: 200,
});
documentRoute(usersRouter, {
  method: "get",
  path: "/assessment/user/status",
  summary: "Whether a user completed the survey",
  query: z.object({ id: UserId }),
  ok: 200,
});
