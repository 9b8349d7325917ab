import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";
import { ApiError } from "./lib/errors";
import { bodyLimit } from "./middleware/body-limit";
import { type OpenApiPaths, documentedContentTypes } from "./middleware/content-type";
import { d1Sessions } from "./middleware/d1-session";
import { requestId } from "./middleware/request-id";
import type { Env } from "./env";
import type { ServiceOverrides } from "./services";
import { FROZEN_RETRY_AFTER_SECONDS, isFenced } from "./db/shards/fence";
import { forgetPlacement } from "./db/shards/router";
import { forgetTenantCredentials } from "./tenants/tenants";
import { CSV_PATHS } from "./routes/ingest-csv/paths";

/**
 * `/v1` is the ingestion API, whose contract answers `{ code, message, data }`;
 * everything else answers `{ error: { code, message, request_id } }`.
 */
function errorResponse(c: Context<AppEnv>, err: ApiError) {
  for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
  if (c.req.path.startsWith("/v1/")) {
    return c.json(
      { code: err.status, message: err.message, data: err.details ? { errors: err.details } : null },
      err.status,
    );
  }
  return c.json(
    {
      error: {
        code: err.code,
        message: err.message,
        request_id: c.get("requestId"),
        ...(err.details ? { details: err.details } : {}),
      },
    },
    err.status,
  );
}

/** RFC 6749 token endpoint (src/routes/oauth). */
const TOKEN_PATH = "/api/1/oauth2/access_token";

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: { title: "ferry", version: "0.1.0", description: "Edge data ingestion and export API" },
};

type Router = OpenAPIHono<AppEnv>;
/** Mounts a group's routers on an app, in the order they are matched. */
type Mount = (app: Router) => void;

/**
 * The routes, in groups by path prefix; a group's modules are imported (and its zod schemas and
 * routers built) on the first request under one of its prefixes. The first group whose prefix
 * matches takes the request, so a group holds every route its prefixes can reach, in the order
 * the one app used to match them. Why lazily: a Worker's isolate evaluates its whole script
 * before the first request it serves, and building every schema and router of the API took most
 * of the API worker's startup (bench/README.md, "footprint"; docs/architecture.md, "Startup").
 * https://developers.cloudflare.com/workers/platform/limits/#worker-startup-time
 */
export interface RouteGroup {
  name: string;
  /** a path that is one of these or below one of them goes to this group */
  prefixes: readonly string[];
  load(): Promise<Mount>;
}

/** A group of one router, mounted at the group's one prefix. */
function single(name: string, prefix: string, router: () => Promise<Hono<any, any, any>>): RouteGroup {
  return {
    name,
    prefixes: [prefix],
    load: async () => {
      const r = await router();
      return (app) => app.route(prefix, r);
    },
  };
}

export const ROUTE_GROUPS: readonly RouteGroup[] = [
  single("admin", "/api/1/admin", async () => (await import("./routes/admin")).adminRouter),
  {
    name: "oauth",
    prefixes: ["/api/1/oauth2", "/.well-known"],
    load: async () => {
      const m = await import("./routes/oauth");
      return (app) => app.route("/api/1", m.oauthRouter).route("/.well-known", m.jwksRouter);
    },
  },
  single("models", "/api/1/models", async () => (await import("./routes/models")).modelsRouter),
  {
    name: "exports",
    prefixes: ["/api/1/exports"],
    load: async () => {
      const [preview, templates, exports, runs, delivery] = await Promise.all([
        import("./routes/exports/preview"),
        import("./routes/exports/templates"),
        import("./routes/exports"),
        import("./routes/exports/runs"),
        import("./routes/exports/delivery"),
      ]);
      return (app) =>
        app
          .route("/api/1/exports", preview.previewRouter)
          .route("/api/1/exports", templates.templatesRouter)
          .route("/api/1/exports", exports.exportsRouter)
          .route("/api/1/exports", runs.runsRouter)
          .route("/api/1/exports", delivery.deliveryRouter);
    },
  },
  // Before "/v1": GET /v1/me is this group's, not an ingestion route's.
  {
    name: "me",
    prefixes: ["/api/1/me", "/v1/me"],
    load: async () => {
      const { meRouter } = await import("./routes/system/me");
      return (app) => app.route("/", meRouter);
    },
  },
  // Before "/v1": the CSV uploads and their status are a group of their own, so a JSON batch does
  // not evaluate the multipart and CSV parsers (busboy, csv-parse) and an upload does not build
  // the JSON ingestion routes.
  {
    name: "csv",
    prefixes: CSV_PATHS,
    load: async () => {
      const { ingestCsvRouter } = await import("./routes/ingest-csv");
      return (app) => app.route("/", ingestCsvRouter);
    },
  },
  {
    name: "v1",
    prefixes: ["/v1"],
    load: async () => {
      const [ingest, reference] = await Promise.all([import("./routes/ingest"), import("./routes/segments/reference")]);
      return (app) => app.route("/v1", ingest.ingestRouter).route("/v1", reference.segmentsReferenceRouter);
    },
  },
  single("downloads", "/api/1/downloads", async () => (await import("./routes/downloads")).downloadsRouter),
  single("automated", "/api/1/data-exporter/automated", async () => (await import("./routes/automated")).automatedRouter),
  single("analytics", "/api/1/analytics", async () => (await import("./routes/analytics")).analyticsRouter),
  single("targets", "/api/1/targets", async () => (await import("./routes/targets")).targetsRouter),
  single("sources", "/api/1/sources", async () => (await import("./routes/sources")).sourcesRouter),
  single("segments", "/api/1/segments", async () => (await import("./routes/segments")).segmentsRouter),
  single("app", "/app", async () => (await import("./routes/app")).appRouter),
];

/** The group that serves a path, or none (then the system routes: /health, /openapi.json, /docs, 404). */
export function routeGroupOf(path: string): RouteGroup | undefined {
  return ROUTE_GROUPS.find((g) => g.prefixes.some((p) => path === p || path.startsWith(`${p}/`)));
}

function registerSecuritySchemes(app: Router) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "Access token from POST /api/1/oauth2/access_token",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "Ingestion API key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN from the Worker's secrets (.dev.vars locally)",
  });
}

/** The whole API's OpenAPI document: every group's routes, mounted in one app that serves nothing. */
export async function openApiDocument() {
  const all = new OpenAPIHono<AppEnv>();
  registerSecuritySchemes(all);
  for (const mount of await Promise.all(ROUTE_GROUPS.map((g) => g.load()))) mount(all);
  return all.getOpenAPI31Document(OPENAPI_INFO);
}

/**
 * One app with every request's middleware, the error envelope and the routes `mount` adds. Each
 * route group is such an app (createApp); a test mounts its own router in one to see the real
 * middleware and envelope.
 */
export function buildApp(overrides: ServiceOverrides, mount: (app: Router) => void): Router {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", requestId());
  app.use("*", d1Sessions(overrides));
  app.use("*", async (c, next) => {
    // CSV uploads have their own, larger limit, applied on their routes.
    if (c.req.path.endsWith("/csv")) return next();
    return bodyLimit("MAX_BODY_BYTES")(c, next);
  });
  // The token endpoint answers every bad body as RFC 6749's `invalid_request` (section 5.2) itself.
  // A group's own routes are the only ones a request it takes can reach, so its own document says
  // what each accepts.
  app.use("*", documentedContentTypes(() => app.getOpenAPI31Document(OPENAPI_INFO) as OpenApiPaths, [TOKEN_PATH]));
  registerSecuritySchemes(app);
  mount(app);
  app.notFound((c) => errorResponse(c, new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`)));
  app.onError(onError);
  return app;
}

function onError(err: Error, c: Context<AppEnv>) {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    const code = err.status === 413 ? "payload_too_large" : err.status === 401 ? "unauthorized" : "bad_request";
    return errorResponse(c, new ApiError(code, err.message || "Bad request"));
  }
  if (err instanceof SyntaxError) return errorResponse(c, new ApiError("bad_request", "Malformed JSON body"));
  if (isFenced(err)) {
    // The tenant's shard refused the write: the tenant is frozen for a move to another shard,
    // or has just moved and this isolate's cached shard is stale (forgotten here, so the retry
    // finds the new one). docs/architecture.md, "Shards".
    const tenantId = c.get("principal")?.tenantId;
    if (tenantId) {
      forgetPlacement(tenantId);
      forgetTenantCredentials(tenantId);
    }
    return errorResponse(
      c,
      new ApiError("unavailable", `This tenant's data is being moved to another shard; nothing was written. Retry after ${FROZEN_RETRY_AFTER_SECONDS} seconds`, {
        headers: { "Retry-After": String(FROZEN_RETRY_AFTER_SECONDS) },
      }),
    );
  }
  console.error(JSON.stringify({ request_id: c.get("requestId"), error: String(err), stack: (err as Error).stack }));
  return errorResponse(c, new ApiError("internal_error", "Internal error; quote the request id when reporting it"));
}

/**
 * The HTTP API and the back office. `toolbox`: the in-process one where the target drivers and
 * OpenPGP are bundled (src/index.ts); by default, the jobs worker's over the TOOLBOX binding.
 * A request goes to its route group's app, built on the group's first request (ROUTE_GROUPS).
 */
export function createApp(opts: { toolbox?: ServiceOverrides["toolbox"] } = {}) {
  const overrides = opts.toolbox ? { toolbox: opts.toolbox } : {};
  let document: Promise<unknown> | undefined;
  const fullDocument = () => {
    document ??= openApiDocument().catch((err: unknown) => {
      document = undefined;
      throw err;
    });
    return document;
  };
  const system = buildApp(overrides, (app) => {
    app.get("/health", (c) => c.json({ status: "ok" }));
    app.get("/openapi.json", async (c) => c.json((await fullDocument()) as object));
    app.get("/docs", async (c) => {
      const [{ renderDocs }, doc] = await Promise.all([import("./routes/system/docs"), fullDocument()]);
      return c.html(renderDocs(doc as Parameters<typeof renderDocs>[0]));
    });
  });
  const apps = new Map<RouteGroup, Promise<Router>>();
  const appOf = (group: RouteGroup) => {
    let app = apps.get(group);
    if (!app) {
      app = group.load().then((mount) => buildApp(overrides, mount));
      // A failed import is tried again by the next request instead of being remembered.
      app.catch(() => apps.delete(group));
      apps.set(group, app);
    }
    return app;
  };
  return {
    fetch: async (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> => {
      const group = routeGroupOf(new URL(request.url).pathname);
      const app = group ? await appOf(group) : system;
      return app.fetch(request, env, ctx);
    },
  };
}
