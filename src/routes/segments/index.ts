import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { requireToken } from "../../middleware/auth";
import { ScoringKey } from "../../segments/scoring";
import {
  MAX_PERSONAS,
  SegmentBody,
  SegmentPatch,
  createSegment,
  deleteSegment,
  getSegmentView,
  listSegmentViews,
  patchSegment,
  recomputeSegment,
  replaceScoringKey,
  resetScoringKey,
  scoringKey,
} from "../../segments/service";

/** Segments, their personas and the scoring key (docs/segments.md). */
export const segmentsRouter = createRouter();
segmentsRouter.use("*", requireToken("segments-manage"));

const Segment = z
  .object({
    id: z.string().openapi({ example: "seg_0123456789abcdefghij" }),
    name: z.string(),
    filters: z.array(z.array(z.record(z.string(), z.unknown()))),
    personas: z.number().int().openapi({ description: `number of personas asked for (1 to ${MAX_PERSONAS})` }),
    status: z.enum(["pending", "computing", "ready", "failed"]),
    progress: z.number().openapi({ description: "0 to 1; an estimate while computing" }),
    users: z.number().int().nullable().openapi({ description: "users in the published result; null before the first" }),
    computed_at: z.number().int().nullable().openapi({ description: "when the published result was computed (epoch seconds)" }),
    persona_sizes: z.array(z.number().int()).openapi({ description: "users per persona of the published result, persona 1 first" }),
    error: z.string().nullable(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("Segment");

const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ example: "default" }) });
const KeyView = z.object({ default: z.boolean(), updated_at: z.number().int().nullable(), key: z.record(z.string(), z.unknown()) }).openapi("ScoringKeyView");
const security = [{ bearerAuth: [] }];
const tags = ["segments"];

segmentsRouter.openapi(
  createRoute({
    method: "get",
    path: "/scoring-key",
    tags,
    summary: "The scoring key that turns survey answers into trait scores (the default key unless replaced)",
    security,
    responses: { 200: { description: "Key", content: { "application/json": { schema: KeyView } } } },
  }),
  async (c) => c.json(await scoringKey(c.var.services, c.get("principal").tenantId), 200),
);

segmentsRouter.openapi(
  createRoute({
    method: "put",
    path: "/scoring-key",
    tags,
    summary: "Replace the scoring key; recomputes use it from their next start",
    security,
    request: { body: { required: true, content: { "application/json": { schema: ScoringKey } } } },
    responses: { 200: { description: "Key", content: { "application/json": { schema: KeyView } } } },
  }),
  async (c) => c.json(await replaceScoringKey(c.var.services, c.get("principal").tenantId, c.req.valid("json")), 200),
);

segmentsRouter.openapi(
  createRoute({
    method: "delete",
    path: "/scoring-key",
    tags,
    summary: "Go back to the default scoring key",
    security,
    responses: { 204: { description: "Done" } },
  }),
  async (c) => {
    await resetScoringKey(c.var.services, c.get("principal").tenantId);
    return c.body(null, 204);
  },
);

segmentsRouter.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Create a segment; its first recompute starts at once",
    security,
    request: { body: { required: true, content: { "application/json": { schema: SegmentBody } } } },
    responses: {
      201: { description: "Created", content: { "application/json": { schema: Segment } } },
      409: { description: "A segment of that name exists" },
    },
  }),
  async (c) => c.json(await createSegment(c.var.services, c.get("principal").tenantId, c.req.valid("json")), 201),
);

segmentsRouter.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "The tenant's segments (default first)",
    security,
    responses: { 200: { description: "Segments", content: { "application/json": { schema: z.object({ segments: z.array(Segment) }) } } } },
  }),
  async (c) => c.json({ segments: await listSegmentViews(c.var.services, c.get("principal").tenantId) }, 200),
);

segmentsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "One segment with the status of its personas (computed_at, users, progress)",
    security,
    request: { params: IdParam },
    responses: { 200: { description: "Segment", content: { "application/json": { schema: Segment } } } },
  }),
  async (c) => c.json(await getSegmentView(c.var.services, c.get("principal").tenantId, c.req.valid("param").id), 200),
);

segmentsRouter.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags,
    summary: "Edit a segment (default too, except its filters); new filters or personas start a recompute",
    security,
    request: { params: IdParam, body: { required: true, content: { "application/json": { schema: SegmentPatch } } } },
    responses: { 200: { description: "Segment", content: { "application/json": { schema: Segment } } } },
  }),
  async (c) => c.json(await patchSegment(c.var.services, c.get("principal").tenantId, c.req.valid("param").id, c.req.valid("json")), 200),
);

segmentsRouter.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags,
    summary: "Delete a segment and its membership rows (default cannot be deleted)",
    security,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, 409: { description: "The default segment" } },
  }),
  async (c) => {
    await deleteSegment(c.var.services, c.get("principal").tenantId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

segmentsRouter.openapi(
  createRoute({
    method: "post",
    path: "/{id}/recompute",
    tags,
    summary: "Recompute the segment's personas now (answers the running recompute if there is one)",
    security,
    request: { params: IdParam },
    responses: { 202: { description: "Recompute running", content: { "application/json": { schema: Segment } } } },
  }),
  async (c) => {
    const { view } = await recomputeSegment(c.var.services, c.get("principal").tenantId, c.req.valid("param").id);
    return c.json(view, 202);
  },
);
