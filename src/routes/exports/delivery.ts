import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { redeliver } from "../../deliveries";
import { DELIVERY_STATUSES } from "../../db/schema";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";

/** A run's delivery to its export's push target (src/deliveries/, docs/targets.md). */
export const deliveryRouter = createRouter();

export const RunDelivery = z
  .object({
    status: z.enum(DELIVERY_STATUSES),
    target_type: z.string().nullable().openapi({ description: "s3, ftp, ftps, sftp, azure or gcs; null until the delivery began" }),
    attempts: z.number().int().openapi({ description: "transient failures so far, each retried; 0 for a clean delivery" }),
    error: z.string().nullable().openapi({ description: "why it failed (failed), or the last transient failure (retrying)" }),
    location: z.string().nullable().openapi({ example: "s3://acme-exports/win-info/2026-11-25/win-info.csv" }),
    updated_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .openapi("RunDelivery", { description: "Where the run's file was pushed, or why not; null for the download target" });

deliveryRouter.openapi(
  createRoute({
    method: "post",
    path: "/{id}/runs/{run_id}/delivery",
    tags: ["exports"],
    summary: "Deliver a run's file again after its delivery failed",
    description:
      "Starts the delivery over from the beginning, to the export definition's CURRENT target (fix the credentials or " +
      "the path on the definition first: disable it, PUT the fix). Parts the failed delivery left at the target are " +
      "aborted first. 409 while the delivery is still running, once it is delivered, or when the run has no file to deliver.",
    security: [{ bearerAuth: [] }],
    middleware: [requireToken("exports-manage")] as const,
    request: {
      params: z.object({ id: z.string().min(1).openapi({ example: "exp_..." }), run_id: z.string().min(1).openapi({ example: "run_..." }) }),
    },
    responses: {
      202: { description: "Accepted: the delivery runs again; poll the run", content: { "application/json": { schema: RunDelivery } } },
      404: { description: "No such run of this export (another tenant's runs are not found)" },
      409: { description: "Delivered already, still running, or nothing to deliver (error.message says which)" },
      422: { description: "The export's current target cannot be used" },
    },
  }),
  async (c) => {
    const { id, run_id } = c.req.valid("param");
    return c.json(await redeliver(c.var.services, c.get("principal").tenantId, id, run_id), 202);
  },
);
