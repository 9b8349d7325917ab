import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors } from "jose";
import type { Env, Principal } from "../env";
import { randomId } from "../lib/ids";
import type { Services } from "../services";
import { TOKEN_ALG, activeSigner, verificationKey } from "./signing-keys";
import { clientState } from "./tenants";

/** Allowed clock difference when checking `exp`, `iat` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 30;

/**
 * The longest token lifetime a client can be given: 15,897,600 s (184 days), the `expires_in`
 * of the automated exports API that ferry replaces.
 */
export const MAX_TOKEN_TTL_SECONDS = 15_897_600;

/** The default token lifetime (TOKEN_TTL_SECONDS, 3600 when unset), at most MAX_TOKEN_TTL_SECONDS. */
export function tokenTtl(env: Env): number {
  const n = Number.parseInt(env.TOKEN_TTL_SECONDS, 10);
  return Math.min(Number.isInteger(n) && n > 0 ? n : 3600, MAX_TOKEN_TTL_SECONDS);
}

/** A client's token lifetime: its own (set on the admin API) or the default. */
export const clientTokenTtl = (env: Env, client: { tokenTtlSeconds: number | null }): number =>
  client.tokenTtlSeconds ?? tokenTtl(env);

/**
 * Issues a JWT access token with the claims of RFC 9068 (`typ: at+jwt`, iss, aud, sub,
 * client_id, iat, exp, jti) plus the tenant and the client's permissions.
 * https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export async function issueAccessToken(
  s: Services,
  client: { id: string; tenantId: string; permissions: string[]; tokenTtlSeconds: number | null },
): Promise<{ token: string; expiresIn: number }> {
  const { kid, key } = await activeSigner(s);
  const expiresIn = clientTokenTtl(s.env, client);
  const now = s.clock.seconds();
  const token = await new SignJWT({ client_id: client.id, tenant_id: client.tenantId, permissions: client.permissions })
    .setProtectedHeader({ alg: TOKEN_ALG, kid, typ: "at+jwt" })
    .setIssuer(s.env.JWT_ISSUER)
    .setAudience(s.env.JWT_AUDIENCE)
    .setSubject(client.id)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .setJti(randomId(24))
    .sign(key);
  return { token, expiresIn };
}

export class TokenError extends Error {}

/**
 * Verifies an access token: algorithm allow-list (ES256 only, so `none` and HS256
 * confusion fail), known kid, issuer, audience, `typ`, expiry with a small skew,
 * and that the client still exists and is not revoked. Permissions come from the
 * client's current state, not only the token, so a narrowed client takes effect. A token whose
 * lifetime (exp - iat) is longer than the client's token lifetime is refused even with a valid
 * signature: a leaked signing key cannot mint tokens that outlive what the client was given, and
 * shortening a client's lifetime retires its longer tokens at once.
 */
export async function verifyAccessToken(s: Services, token: string): Promise<Principal> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new TokenError("malformed token");
  }
  const key = await verificationKey(s, kid);
  if (!key) throw new TokenError("unknown signing key");
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [TOKEN_ALG],
      issuer: s.env.JWT_ISSUER,
      audience: s.env.JWT_AUDIENCE,
      typ: "at+jwt",
      // exp, iat and nbf are judged by the service clock, not the host's
      currentDate: new Date(s.clock.now()),
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ["exp", "iat", "sub", "jti"],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError("token expired");
    throw new TokenError("invalid token");
  }
  const clientId = payload.client_id;
  if (typeof clientId !== "string" || payload.sub !== clientId) throw new TokenError("invalid token");
  const state = await clientState(s, clientId);
  if (!state || !state.active) throw new TokenError("client revoked");
  if (state.tenantId !== payload.tenant_id) throw new TokenError("invalid token");
  // requiredClaims made sure both are there; jose checked they are numbers.
  const lifetime = (payload.exp as number) - (payload.iat as number);
  if (!(lifetime <= clientTokenTtl(s.env, state))) throw new TokenError("token lifetime exceeds the client's maximum");
  const tokenPerms = Array.isArray(payload.permissions) ? (payload.permissions as string[]) : [];
  return {
    kind: "client",
    tenantId: state.tenantId,
    shard: state.shard,
    rateLimits: state.rateLimits,
    subject: clientId,
    permissions: tokenPerms.filter((p) => state.permissions.includes(p)),
  };
}
