import { z } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireApiKey } from "../../middleware/auth";
import { assessmentStatus, deleteUserData } from "../../ingest/batch/users";
import { commitOnShard, tenantData } from "../../db/shards";
import { envelope, idempotent, readJson, send } from "./envelope";
import { documentRoute } from "./openapi";

const UserId = z.string({ error: '"id" must be a string' }).min(1, '"id" must not be empty').max(4096);
const DeleteBody = z.object({ id: UserId }).strict();

export const usersRouter = createRouter();

/** Permanently deletes every row of one end user of the tenant (all models). */
usersRouter.post("/user-data", requireApiKey(), async (c) => {
  const { raw, body } = await readJson(c);
  const parsed = DeleteBody.safeParse(body);
  if (!parsed.success) {
    throw new ApiError("bad_request", `The body must be {"id": "<user id>"}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  const id = parsed.data.id;
  return idempotent(c, raw, async (store) => {
    // The response names the row count, known only after the deletion: it is stored right
    // after it. Deleting again is harmless (nothing left to delete).
    const s = c.var.services;
    const result = await deleteUserData(s, c.get("principal"), id);
    const res = envelope(200, `user data of ${id} has been deleted`, { id, deleted_rows: result.rows, by_model: result.by_model });
    await commitOnShard(tenantData(s.shards, c.get("principal")), store(res));
    return res;
  });
});

/** `{ completed, completed_at }` from the tenant's survey responses. */
usersRouter.get("/assessment/user/status", requireApiKey(), async (c) => {
  const id = UserId.safeParse(c.req.query("id"));
  if (!id.success) throw new ApiError("bad_request", "Query parameter id is required: /v1/assessment/user/status?id=<user id>");
  return send(c, envelope(200, "", await assessmentStatus(c.var.services, c.get("principal"), id.data)));
});

documentRoute(usersRouter, { method: "post", path: "/user-data", summary: "Delete every row of one user (all models)", body: DeleteBody, ok: 200 });
documentRoute(usersRouter, {
  method: "get",
  path: "/assessment/user/status",
  summary: "Whether a user completed the survey",
  query: z.object({ id: UserId }),
  ok: 200,
});
