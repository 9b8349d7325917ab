import * as z from "zod";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { createRouter } from "../../lib/router";
import { publicJwks } from "../../tenants/signing-keys";
import { authenticateClient } from "../../tenants/tenants";
import { issueAccessToken } from "../../tenants/tokens";
import { clearFailedClientAuth, clientLockState, recordFailedClientAuth } from "../../tenants/lockout";
import { type Limit, TOKEN_LIMITS, consume, rateLimitHeaders } from "../../tenants/rate-limits";

/**
 * RFC 6749 section 5.2 error response. `invalid_client` is a 401 with a
 * WWW-Authenticate challenge. https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
function oauthError(c: Context<AppEnv>, error: string, description: string, status: 400 | 401 = 400) {
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  if (status === 401) c.header("WWW-Authenticate", 'Basic realm="ferry", charset="UTF-8"');
  return c.json({ error, error_description: description }, status);
}

/**
 * 429 in the endpoint's own RFC 6749 envelope, with Retry-After (and the RateLimit fields
 * when a rate limit refused, not a lock-out). `temporarily_unavailable` is the OAuth error
 * code for "try again later" (RFC 6749 section 4.1.2.1).
 */
function tooMany(c: Context<AppEnv>, description: string, headers: Record<string, string>) {
  c.header("Cache-Control", "no-store");
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  return c.json({ error: "temporarily_unavailable", error_description: description }, 429);
}

async function limited(c: Context<AppEnv>, limit: Limit, key: string, what: string) {
  const outcome = await consume(c.env, limit, key);
  if (outcome.ok) return null;
  return tooMany(
    c,
    `Too many token requests ${what}: ${limit.limit} per ${limit.period} seconds`,
    rateLimitHeaders(outcome),
  );
}

const TokenRequest = z.object({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  scope: z.string().optional(),
});

const TokenResponse = z.object({
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
  access_token: z.string(),
});

const OAuthErrorBody = z.object({ error: z.string(), error_description: z.string() });

async function readTokenBody(c: Context<AppEnv>): Promise<Record<string, unknown> | null> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  try {
    if (type === "application/json") return (await c.req.json()) as Record<string, unknown>;
    if (type === "application/x-www-form-urlencoded" || type === "multipart/form-data") {
      return Object.fromEntries(
        Object.entries(await c.req.parseBody()).filter(([, v]) => typeof v === "string"),
      );
    }
  } catch {
    return null;
  }
  return null;
}

/** `Authorization: Basic base64(urlencode(id):urlencode(secret))` per RFC 6749 section 2.3.1. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | "malformed" | null {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) return /^Basic\b/i.test(header) ? "malformed" : null;
  try {
    const decoded = atob(m[1]);
    const i = decoded.indexOf(":");
    if (i < 0) return "malformed";
    return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  } catch {
    return "malformed";
  }
}

export const oauthRouter = createRouter();

oauthRouter.openAPIRegistry.registerPath({
  method: "post",
  path: "/oauth2/access_token",
  tags: ["auth"],
  summary: "Client-credentials grant: exchange client_id/client_secret for an access token",
  description:
    "JSON or form body. Client credentials in the body or as HTTP Basic (not both). Errors follow RFC 6749 section 5.2.",
  request: {
    body: {
      content: {
        "application/json": { schema: TokenRequest },
        "application/x-www-form-urlencoded": { schema: TokenRequest },
      },
    },
  },
  responses: {
    200: { description: "Token", content: { "application/json": { schema: TokenResponse } } },
    400: { description: "invalid_request / unsupported_grant_type", content: { "application/json": { schema: OAuthErrorBody } } },
    401: { description: "invalid_client", content: { "application/json": { schema: OAuthErrorBody } } },
    429: {
      description:
        "temporarily_unavailable: too many requests from this address or for this client_id, or the client_id is locked after repeated failed authentications (Retry-After says for how long; docs/rate-limits.md)",
      content: { "application/json": { schema: OAuthErrorBody } },
    },
  },
});

oauthRouter.post("/oauth2/access_token", async (c) => {
  const s = c.var.services;
  // Cloudflare sets CF-Connecting-IP on every request it serves; without it (tests, a bare
  // local runtime) there is no address to count.
  const ip = c.req.header("cf-connecting-ip") ?? null;
  if (ip) {
    const refused = await limited(c, TOKEN_LIMITS.ip, ip, "from this address");
    if (refused) return refused;
  }
  const raw = await readTokenBody(c);
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    return oauthError(c, "invalid_request", "Send a JSON or application/x-www-form-urlencoded body");
  }
  const parsed = TokenRequest.safeParse(raw);
  if (!parsed.success) return oauthError(c, "invalid_request", "Parameters must be strings");
  const body = parsed.data;
  if (!body.grant_type) return oauthError(c, "invalid_request", "grant_type is required");
  if (body.grant_type !== "client_credentials") {
    return oauthError(c, "unsupported_grant_type", "Only grant_type=client_credentials is supported");
  }
  const basic = basicCredentials(c.req.header("authorization"));
  if (basic === "malformed") return oauthError(c, "invalid_client", "Malformed Basic credentials", 401);
  if (basic && body.client_secret !== undefined) {
    return oauthError(c, "invalid_request", "Use one client authentication method: Basic or body, not both");
  }
  const id = basic?.id ?? body.client_id;
  const secret = basic?.secret ?? body.client_secret;
  if (!id || !secret) return oauthError(c, "invalid_request", "client_id and client_secret are required");
  const refused = await limited(c, TOKEN_LIMITS.client, id, "for this client_id");
  if (refused) return refused;
  const lock = await clientLockState(s, id);
  if (lock.lockedFor > 0) {
    return tooMany(c, "Too many failed authentications for this client_id; it is locked for a while", {
      "Retry-After": String(lock.lockedFor),
    });
  }
  const client = await authenticateClient(s, id, secret);
  if (!client) {
    await recordFailedClientAuth(s, id, ip);
    return oauthError(c, "invalid_client", "Client authentication failed", 401);
  }
  if (lock.hasFailures) await clearFailedClientAuth(s, id);
  const { token, expiresIn } = await issueAccessToken(c.var.services, client);
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  return c.json({ token_type: "Bearer" as const, expires_in: expiresIn, access_token: token }, 200);
});

export const jwksRouter = createRouter();
jwksRouter.openAPIRegistry.registerPath({
  method: "get",
  path: "/jwks.json",
  tags: ["auth"],
  summary: "Public keys that verify access tokens (active and previous)",
  responses: { 200: { description: "JWK Set" } },
});
jwksRouter.get("/jwks.json", async (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json({ keys: await publicJwks(c.var.services) });
});
