import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";
import { ApiError } from "./lib/errors";
import { bodyLimit } from "./middleware/body-limit";
import { type OpenApiPaths, documentedContentTypes } from "./middleware/content-type";
import { d1Sessions } from "./middleware/d1-session";
import { requestId } from "./middleware/request-id";
import { adminRouter } from "./routes/admin";
import { analyticsRouter } from "./routes/analytics";
import { automatedRouter } from "./routes/automated";
import { exportsRouter } from "./routes/exports";
import { templatesRouter } from "./routes/exports/templates";
import { previewRouter } from "./routes/exports/preview";
import { ingestRouter } from "./routes/ingest";
import { downloadsRouter } from "./routes/downloads";
import { runsRouter } from "./routes/exports/runs";
import { deliveryRouter } from "./routes/exports/delivery";
import { ingestCsvRouter } from "./routes/ingest-csv";
import { modelsRouter } from "./routes/models";
import { segmentsRouter } from "./routes/segments";
import { segmentsReferenceRouter } from "./routes/segments/reference";
import { jwksRouter, oauthRouter } from "./routes/oauth";
import { renderDocs } from "./routes/system/docs";
import { meRouter } from "./routes/system/me";
import { targetsRouter } from "./routes/targets";
import { sourcesRouter } from "./routes/sources";
import type { ServiceOverrides } from "./services";
import { forgetPlacement, isFenced } from "./db/shards";
import { FROZEN_RETRY_AFTER_SECONDS } from "./tenants/moves";
import { forgetTenantCredentials } from "./tenants/tenants";
import { appRouter } from "./routes/app";

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

/**
 * The HTTP API and the back office. `toolbox`: the in-process one where the target drivers and
 * OpenPGP are bundled (src/index.ts); by default, the jobs worker's over the TOOLBOX binding.
 */
export function createApp(opts: { toolbox?: ServiceOverrides["toolbox"] } = {}) {
  const app = new OpenAPIHono<AppEnv>();
  const overrides = opts.toolbox ? { toolbox: opts.toolbox } : {};
  app.use("*", requestId());
  app.use("*", d1Sessions(overrides));
  app.use("*", async (c, next) => {
    // CSV uploads have their own, larger limit, applied on their routes.
    if (c.req.path.endsWith("/csv")) return next();
    return bodyLimit("MAX_BODY_BYTES")(c, next);
  });
  // The token endpoint answers every bad body as RFC 6749's `invalid_request` (section 5.2) itself.
  app.use("*", documentedContentTypes(() => app.getOpenAPI31Document(OPENAPI_INFO) as OpenApiPaths, [TOKEN_PATH]));

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

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.route("/api/1/admin", adminRouter);
  app.route("/api/1", oauthRouter);
  app.route("/.well-known", jwksRouter);
  app.route("/api/1/models", modelsRouter);
  app.route("/api/1/exports", previewRouter);
  app.route("/api/1/exports", templatesRouter);
  app.route("/api/1/exports", exportsRouter);
  app.route("/", meRouter);
  app.route("/v1", ingestRouter);
  app.route("/api/1/exports", runsRouter);
  app.route("/api/1/exports", deliveryRouter);
  app.route("/api/1/downloads", downloadsRouter);
  app.route("/api/1/data-exporter/automated", automatedRouter);
  app.route("/api/1/analytics", analyticsRouter);
  app.route("/api/1/targets", targetsRouter);
  app.route("/api/1/sources", sourcesRouter);
  app.route("/api/1/segments", segmentsRouter);
  app.route("/v1", segmentsReferenceRouter);
  app.route("/", ingestCsvRouter);
  app.route("/app", appRouter);

  app.doc31("/openapi.json", OPENAPI_INFO);
  app.get("/docs", (c) => c.html(renderDocs(app.getOpenAPI31Document(OPENAPI_INFO) as Parameters<typeof renderDocs>[0])));

  app.notFound((c) => errorResponse(c, new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
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
  });
  return app;
}
