import type { Context, Next } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";
import { type TenantScope, consume, effectiveRateLimits, rateLimitHeaders, tierLimit } from "../tenants/rate-limits";

/**
 * Counts the call against the authenticated principal's limit (per API key on /v1, per
 * client on /api/1, at the tenant's tier) and refuses it with a 429 past the limit. The
 * RateLimit-Policy header goes on every answer of a limited route, refusals add `RateLimit`
 * and `Retry-After` (src/tenants/rate-limits.ts). The 429 takes the envelope of its path
 * (src/app.ts errorResponse).
 */
export async function limitPrincipal(c: Context<AppEnv>, scope: TenantScope, next: Next): Promise<void> {
  const p = c.get("principal");
  const tier = effectiveRateLimits(p.rateLimits)[scope];
  const outcome = await consume(c.env, tierLimit(scope, tier), `${p.kind}:${p.subject}`);
  const headers = rateLimitHeaders(outcome);
  if (!outcome.ok) {
    const who = p.kind === "api_key" ? "this API key" : "this client";
    throw new ApiError(
      "rate_limited",
      `Rate limit exceeded for ${who}: ${outcome.limit.limit} requests per ${outcome.limit.period} seconds; retry after ${outcome.limit.period} seconds`,
      { headers },
    );
  }
  await next();
  if (!Object.keys(headers).length) return;
  try {
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  } catch {
    // a response passed through from fetch() has immutable headers: answer a copy
    c.res = new Response(c.res.body, c.res);
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  }
}
