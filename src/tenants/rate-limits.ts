import { RATE_LIMIT_TIERS, type RateLimitTier, type TenantRateLimits } from "../db/schema";
import type { Env } from "../env";

/**
 * Rate limits through the Workers Rate Limiting binding (docs/rate-limits.md).
 * https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 *
 * A binding's limit and period are fixed in wrangler.toml and `limit({ key })` answers only
 * `{ success }`, so:
 * - a tenant's configurable limit is a TIER: one binding per scope and tier, and the tenant's
 *   row says which binding counts its keys (an "unlimited" tier skips counting);
 * - the numbers below repeat wrangler.toml (the Worker cannot read a binding's settings);
 *   test/edge/rate-limits.test.ts fails when the two differ;
 * - the remaining budget and the window's end are unknown: answers say the policy, and on a
 *   refusal `r=0` and a full period as the time to wait (an upper bound once the caller stops).
 * The binding counts per Cloudflare location and is eventually consistent: a limit is a
 * guard against floods, not an exact quota.
 */

export { RATE_LIMIT_TIERS, type RateLimitTier, type TenantRateLimits };

/** What a tenant can configure: `ingest` = per API key on /v1, `api` = per client on /api/1. */
export const TENANT_SCOPES = ["ingest", "api"] as const;
export type TenantScope = (typeof TENANT_SCOPES)[number];

export interface Limit {
  binding: keyof Env & `RL_${string}`;
  limit: number;
  period: 10 | 60;
}

type CountedTier = Exclude<RateLimitTier, "unlimited">;

export const TIER_LIMITS: Record<TenantScope, Record<CountedTier, Limit>> = {
  ingest: {
    low: { binding: "RL_INGEST_LOW", limit: 60, period: 60 },
    standard: { binding: "RL_INGEST_STANDARD", limit: 1200, period: 60 },
    high: { binding: "RL_INGEST_HIGH", limit: 6000, period: 60 },
  },
  api: {
    low: { binding: "RL_API_LOW", limit: 60, period: 60 },
    standard: { binding: "RL_API_STANDARD", limit: 1200, period: 60 },
    high: { binding: "RL_API_HIGH", limit: 6000, period: 60 },
  },
};

/** The token endpoint's limits are the same for everybody: they apply before a client is known. */
export const TOKEN_LIMITS = {
  client: { binding: "RL_TOKEN_CLIENT", limit: 20, period: 60 },
  ip: { binding: "RL_TOKEN_IP", limit: 60, period: 60 },
} as const satisfies Record<string, Limit>;

export const DEFAULT_TIER: RateLimitTier = "standard";

/** A tenant's tier per scope, defaults filled in (what the admin API shows). */
export function effectiveRateLimits(stored: TenantRateLimits | null | undefined): Required<TenantRateLimits> {
  return { ingest: stored?.ingest ?? DEFAULT_TIER, api: stored?.api ?? DEFAULT_TIER };
}

/** The limit a tier stands for; null for "unlimited". */
export function tierLimit(scope: TenantScope, tier: RateLimitTier): Limit | null {
  return tier === "unlimited" ? null : TIER_LIMITS[scope][tier];
}

export type LimitOutcome = { ok: true; limit: Limit | null } | { ok: false; limit: Limit };

/**
 * Counts one call of `key` against `limit`. The policy name in the RateLimit headers is the
 * binding's name, so a caller can tell which of its limits refused it.
 */
export async function consume(env: Env, limit: Limit | null, key: string): Promise<LimitOutcome> {
  if (!limit) return { ok: true, limit };
  const { success } = await (env[limit.binding] as RateLimit).limit({ key });
  return success ? { ok: true, limit } : { ok: false, limit };
}

/**
 * The RateLimit header fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "<name>";q=<limit>;w=<period>` always, and on a refusal
 * `RateLimit: "<name>";r=0;t=<seconds>` plus `Retry-After`. Without a refusal the binding
 * does not say what remains, so no `RateLimit` field is sent then.
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
export function rateLimitHeaders(outcome: LimitOutcome): Record<string, string> {
  if (!outcome.limit) return {};
  const { binding, limit, period } = outcome.limit;
  const name = policyName(binding);
  const headers: Record<string, string> = { "RateLimit-Policy": `"${name}";q=${limit};w=${period}` };
  if (!outcome.ok) {
    headers.RateLimit = `"${name}";r=0;t=${period}`;
    headers["Retry-After"] = String(period);
  }
  return headers;
}

/** `RL_INGEST_STANDARD` -> `ingest-standard` */
function policyName(binding: string): string {
  return binding.replace(/^RL_/, "").toLowerCase().replaceAll("_", "-");
}
