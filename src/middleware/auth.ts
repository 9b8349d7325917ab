import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { timingSafeEqualStr } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import type { Permission } from "../tenants/tenants";
import { authenticateApiKey } from "../tenants/tenants";
import { TokenError, verifyAccessToken } from "../tenants/tokens";
import { limitPrincipal } from "./rate-limit";

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

const challenge = (error?: string, description?: string) => ({
  "WWW-Authenticate": error
    ? `Bearer realm="ferry", error="${error}", error_description="${description ?? ""}"`
    : `Bearer realm="ferry"`,
});

/** Admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export const requireAdmin = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (!c.env.ADMIN_TOKEN) throw new ApiError("forbidden", "Admin API is disabled: ADMIN_TOKEN is not set");
    if (!token || !(await timingSafeEqualStr(token, c.env.ADMIN_TOKEN))) {
      throw new ApiError("unauthorized", "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)", {
        headers: challenge(token ? "invalid_token" : undefined, "admin token mismatch"),
      });
    }
    await next();
  });

/**
 * OAuth2 access-token routes. `permission` is what the route needs; null means any
 * valid token of the tenant. The tenant always comes from the verified token. Each call
 * counts against the client's limit (the tenant's `api` tier, docs/rate-limits.md).
 */
export const requireToken = (permission: Permission | null) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (!token) {
      throw new ApiError("unauthorized", "An access token is required (Authorization: Bearer <token>)", {
        headers: challenge(),
      });
    }
    try {
      c.set("principal", await verifyAccessToken(c.var.services, token));
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      throw new ApiError("unauthorized", `Access token rejected: ${err.message}`, {
        headers: challenge("invalid_token", err.message),
      });
    }
    if (permission && !c.get("principal").permissions.includes(permission)) {
      throw new ApiError("forbidden", `This client lacks the '${permission}' permission`, {
        headers: challenge("insufficient_scope", `requires ${permission}`),
      });
    }
    await limitPrincipal(c, "api", next);
  });

/** An access token is a JWT (three base64url parts); an API key is `fk_` and random bytes. */
const looksLikeJwt = (credential: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential);

/**
 * Ingestion routes: `Authorization: Bearer <API_KEY>`, or `?api_key=` where a caller cannot set
 * headers (PlayFab webhooks), or an access token of a client with the `ingest` permission (so an
 * integration that holds a token need not also hold a key). Each call counts against the
 * credential's limit (the tenant's `ingest` tier, docs/rate-limits.md).
 */
export const requireApiKey = (opts: { allowQuery?: boolean } = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const fromHeader = bearer(c.req.header("authorization"));
    const key = fromHeader ?? (opts.allowQuery ? c.req.query("api_key") : undefined);
    if (!key) throw new ApiError("unauthorized", "An API key is required (Authorization: Bearer <API_KEY>)");
    if (fromHeader && looksLikeJwt(fromHeader)) {
      try {
        c.set("principal", await verifyAccessToken(c.var.services, fromHeader));
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        throw new ApiError("unauthorized", `Access token rejected: ${err.message}`, { headers: challenge("invalid_token", err.message) });
      }
      if (!c.get("principal").permissions.includes("ingest")) {
        throw new ApiError("forbidden", "This client lacks the 'ingest' permission, which /v1 needs from an access token (or use an API key)", {
          headers: challenge("insufficient_scope", "requires ingest"),
        });
      }
    } else {
      const principal = await authenticateApiKey(c.var.services, key);
      if (!principal) throw new ApiError("unauthorized", "API key is invalid or revoked");
      c.set("principal", principal);
    }
    await limitPrincipal(c, "ingest", next);
  });
