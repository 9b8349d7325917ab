import {
  appendAudit,
  clearClientAuthFailuresUnscoped,
  getClientAuthFailuresUnscoped,
  getClientUnscoped,
  pruneClientAuthFailuresUnscoped,
  recordClientAuthFailureUnscoped,
} from "../db/tenants";
import { newId } from "../lib/ids";
import type { Services } from "../services";

/**
 * Lock-out of a client id after repeated failed authentications at the token endpoint
 * (docs/rate-limits.md). Counted in D1 (table client_auth_failures) with the service clock,
 * not in the rate-limit binding: the lock must outlast the binding's 60-second window and be
 * the same in every location. Unknown client ids are counted and locked exactly like known
 * ones, so the answers never tell whether an id exists.
 */
export const LOCKOUT = {
  /** failures counted within this many seconds of the first one */
  windowSeconds: 600,
  /** this many failures in the window lock the client id */
  threshold: 10,
  /** for this long; even the right secret is refused meanwhile */
  lockSeconds: 900,
};

export interface LockState {
  /** seconds until the lock ends; 0 when not locked */
  lockedFor: number;
  /** whether failures are on record (a success then clears them) */
  hasFailures: boolean;
}

export async function clientLockState(s: Services, clientId: string): Promise<LockState> {
  const row = await getClientAuthFailuresUnscoped(s.db, clientId);
  const now = s.clock.seconds();
  return { lockedFor: row?.locked_until && row.locked_until > now ? row.locked_until - now : 0, hasFailures: !!row };
}

/**
 * Counts a failed authentication; the failure that reaches the threshold locks the id and is
 * logged (a JSON line on the console and an audit_log entry under the client's tenant, or
 * no tenant for an unknown id).
 */
export async function recordFailedClientAuth(s: Services, clientId: string, ip: string | null): Promise<LockState> {
  const now = s.clock.seconds();
  const row = await recordClientAuthFailureUnscoped(s.db, clientId, now, LOCKOUT);
  const lockedFor = row.locked_until && row.locked_until > now ? row.locked_until - now : 0;
  if (row.failures === LOCKOUT.threshold && lockedFor > 0) {
    const client = await getClientUnscoped(s.db, clientId);
    const details = { client_id: clientId, failures: row.failures, window_seconds: LOCKOUT.windowSeconds, locked_until: row.locked_until, ip };
    console.warn(JSON.stringify({ event: "client.locked_out", tenant_id: client?.tenant_id ?? null, ...details }));
    await appendAudit(s.db, {
      id: newId("aud"),
      tenant_id: client?.tenant_id ?? null,
      actor: ip ? `ip:${ip}` : "token-endpoint",
      action: "client.locked_out",
      details,
      created_at: now,
    });
  }
  return { lockedFor, hasFailures: true };
}

export async function clearFailedClientAuth(s: Services, clientId: string): Promise<void> {
  await clearClientAuthFailuresUnscoped(s.db, clientId);
}

/** Cron: forget counts whose window and lock are over. */
export function pruneFailedClientAuth(s: Services): Promise<number> {
  return pruneClientAuthFailuresUnscoped(s.db, s.clock.seconds(), Math.max(LOCKOUT.windowSeconds, LOCKOUT.lockSeconds));
}
