import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { notFound } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { deliveryRecord } from "../../deliveries";
import { DeliveryTarget } from "../../targets/config";

/** Delivery targets: "test connection", and the delivery state of a run. */
export const targetsRouter = createRouter();
targetsRouter.use("*", requireToken("exports-manage"));

const Delivery = z.object({
  id: z.string(),
  run_id: z.string(),
  target_type: z.string(),
  status: z.enum(["pending", "delivering", "retrying", "delivered", "failed"]),
  attempts: z.number(),
  location: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  delivered_at: z.number().nullable(),
});

targetsRouter.openapi(
  createRoute({
    method: "post",
    path: "/test",
    tags: ["targets"],
    summary: "Test a delivery target: connect and authenticate (S3: HeadBucket; Azure: stage an uncommitted block; GCS: token exchange, an upload session started and cancelled)",
    security: [{ bearerAuth: [] }],
    request: { body: { required: true, content: { "application/json": { schema: DeliveryTarget } } } },
    responses: {
      200: { description: "The target accepted the connection and the credentials", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
      422: { description: "The target refused (error.message says why; error.details[0].message is the kind: auth, not_found, config, refused, transient)" },
    },
  }),
  async (c) => {
    await c.var.services.toolbox.checkTarget(c.req.valid("json"));
    return c.json({ ok: true as const }, 200);
  },
);

targetsRouter.openapi(
  createRoute({
    method: "get",
    path: "/deliveries/{run_id}",
    tags: ["targets"],
    summary: "Where a run's file was delivered, or why it was not",
    description:
      "The run's delivery record. GET /api/1/exports/{id}/runs/{run_id} shows the same as `delivery`; " +
      "POST /api/1/exports/{id}/runs/{run_id}/delivery delivers a failed one again.",
    security: [{ bearerAuth: [] }],
    request: { params: z.object({ run_id: z.string().openapi({ example: "run_..." }) }) },
    responses: { 200: { description: "Delivery", content: { "application/json": { schema: Delivery } } } },
  }),
  async (c) => {
    const { run_id } = c.req.valid("param");
    const d = await deliveryRecord(c.var.services, c.get("principal").tenantId, run_id);
    if (!d) throw notFound(`Delivery of run '${run_id}'`);
    return c.json(d, 200);
  },
);
