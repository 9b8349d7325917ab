import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { BOOKMARK_HEADER } from "../db/sessions";
import { ApiError } from "./errors";

/** Turns zod issues into `{ path, message }` details a person can act on. */
export function zodDetails(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message }));
}

export function validationError(error: z.ZodError, where: string): ApiError {
  const details = zodDetails(error);
  const first = details[0];
  const summary = first ? `${first.path}: ${first.message}` : "invalid input";
  return new ApiError("validation_failed", `Invalid ${where}: ${summary}`, { details });
}

// ---------------------------------------------------------------- x-d1-bookmark in /openapi.json

const READ_REPLICA = Symbol("ferry.readReplica");

/**
 * Marks the read-replica middleware (src/middleware/d1-session.ts): a route declared with it
 * in its `middleware` documents `x-d1-bookmark` as a request header, and d1Sessions opens its
 * requests' D1 sessions on replicas.
 */
export function markReadReplica<M extends MiddlewareHandler>(mw: M): M {
  return Object.assign(mw, { [READ_REPLICA]: true });
}
/** Whether a handler is the read-replica middleware (d1Sessions opens replica sessions for its routes). */
export const isReadReplica = (mw: unknown) => typeof mw === "function" && READ_REPLICA in mw;

/** The components every route's documentation points at (docs/architecture.md, "Read replicas"). */
const BOOKMARK = "D1Bookmark";
const BOOKMARK_SCHEMA = {
  type: "string" as const,
  example: "DB=00000a1f-00000002-00004f6a-5c2c3a8b0f4e4d2b9d7c1e6f3a2b1c0d,DATA_1=00000b02-00000001-00004f6a-1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a",
  pattern: "^(DB|DATA_[0-9]+)=[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}(,(DB|DATA_[0-9]+)=[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32})*$",
};
const BOOKMARK_HEADER_DOC = {
  description:
    "The point each database this request used (DB, DATA_n) had reached, one `name=bookmark` pair per database, with the pairs the client sent for databases it did not use passed on. Present whenever the request touched a database. Send it back as the `x-d1-bookmark` request header of a read-only route to read your own writes.",
  schema: BOOKMARK_SCHEMA,
};
const BOOKMARK_PARAMETER_DOC = {
  name: BOOKMARK_HEADER,
  in: "header" as const,
  required: false,
  description:
    "The `x-d1-bookmark` of an earlier response: this read-only route is then answered by a read replica at least as fresh as that (your own writes are there). Without it, the nearest replica answers, which may lag the primary. A value ferry did not issue is a 400.",
  schema: BOOKMARK_SCHEMA,
};

/** Every response carries `x-d1-bookmark` (src/middleware/d1-session.ts). */
function withBookmarkHeader<R extends Pick<RouteConfig, "method" | "path" | "responses">>(route: R): R {
  const header = { $ref: `#/components/headers/${BOOKMARK}` };
  const responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, r]) => {
      if ("$ref" in r) return [status, r];
      if (r.headers && typeof (r.headers as { safeParse?: unknown }).safeParse === "function") throw new Error(`${route.method} ${route.path}: declare response headers as a HeadersObject, not a zod schema`);
      return [status, { ...r, headers: { ...(r.headers as Record<string, unknown> | undefined), [BOOKMARK_HEADER]: header } }];
    }),
  );
  return { ...route, responses };
}

/** The read-only routes, declared with the read-replica middleware, also take it as a request header. */
function withBookmarkParameter<R extends RouteConfig>(route: R): R {
  const mws: unknown[] = route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware];
  if (!mws.some(isReadReplica)) return route;
  return { ...route, parameters: [...(route.parameters ?? []), { $ref: `#/components/parameters/${BOOKMARK}` }] };
}

/**
 * Every router is made here so that validation failures all answer the same way, and so that
 * /openapi.json describes what every route shares (x-d1-bookmark) without each route saying it.
 */
export function createRouter() {
  const router = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target === "json" ? "body" : result.target);
    },
  });
  router.openAPIRegistry.registerComponent("headers", BOOKMARK, BOOKMARK_HEADER_DOC);
  router.openAPIRegistry.registerComponent("parameters", BOOKMARK, BOOKMARK_PARAMETER_DOC);
  // every path registered (by openapi() or directly, as the token endpoint does) documents the response header
  const registry = router.openAPIRegistry;
  const registerPath = registry.registerPath.bind(registry);
  registry.registerPath = (route) => registerPath(withBookmarkHeader(route));
  // openapi() drops `middleware` before it registers the path: look at it here
  const openapi = router.openapi;
  router.openapi = ((route: RouteConfig, handler: never, hook?: never) => openapi(withBookmarkParameter(route) as never, handler, hook)) as typeof openapi;
  return router;
}
