import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { requireApiKey, requireToken } from "../../middleware/auth";

/** "Who am I": lets an integrator check a credential and see what it may do. */
export const meRouter = createRouter();

const Me = z.object({ tenant_id: z.string(), kind: z.enum(["client", "api_key"]), subject: z.string(), permissions: z.array(z.string()) });

meRouter.openapi(
  createRoute({
    method: "get",
    path: "/api/1/me",
    tags: ["auth"],
    summary: "The tenant, client and permissions of an access token",
    security: [{ bearerAuth: [] }],
    middleware: [requireToken(null)] as const,
    responses: { 200: { description: "Principal", content: { "application/json": { schema: Me } } } },
  }),
  (c) => {
    const p = c.get("principal");
    return c.json({ tenant_id: p.tenantId, kind: p.kind, subject: p.subject, permissions: [...p.permissions] }, 200);
  },
);

meRouter.openapi(
  createRoute({
    method: "get",
    path: "/v1/me",
    tags: ["ingestion"],
    summary: "The tenant of an ingestion API key",
    security: [{ apiKey: [] }],
    middleware: [requireApiKey()] as const,
    responses: {
      200: {
        description: "Principal",
        content: { "application/json": { schema: z.object({ code: z.number(), message: z.string(), data: Me }) } },
      },
    },
  }),
  (c) => {
    const p = c.get("principal");
    return c.json(
      { code: 200, message: "", data: { tenant_id: p.tenantId, kind: p.kind, subject: p.subject, permissions: [...p.permissions] } },
      200,
    );
  },
);
