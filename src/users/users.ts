import {
  clearFailedSignIns,
  deleteExpiredSessions,
  deleteSession,
  getLiveSessionUnscoped,
  getUserByEmailUnscoped,
  insertSession,
  insertUser,
  recordFailedSignIn,
} from "../db/users";
import type { Tenant, UserRole, UserRow } from "../db/schema";
import { toBase64Url, sha256Hex } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { PERMISSIONS, type Permission } from "../tenants/tenants";
import { hashPassword, randomPassword, verifyPassword } from "./passwords";

/**
 * Back-office people: invitation, sign-in with lock-out, sessions. A user belongs to one
 * tenant; the email alone finds it (emails are unique across tenants, see src/db/schema.ts).
 */

/**
 * What each role may do, in the permission names API clients have (src/tenants/tenants.ts).
 * A viewer has none of the managing permissions: the pages let every signed-in user read
 * (GET) and refuse every change (POST/PUT/PATCH/DELETE) that needs a permission the role
 * lacks; the buttons for such changes are not shown to them. Admins also manage the
 * tenant's API keys (`keys-manage`, a back-office capability with no client equivalent).
 */
export const ROLE_PERMISSIONS: Record<UserRole, readonly (Permission | "keys-manage")[]> = {
  admin: [...PERMISSIONS, "keys-manage"],
  editor: ["exports-manage", "automated-exports-view", "ingest", "sources-manage"],
  viewer: ["automated-exports-view"],
};
export type Capability = Permission | "keys-manage";

export const can = (role: UserRole, what: Capability) => ROLE_PERMISSIONS[role].includes(what);

/** Wrong passwords in a row before the account is locked, and for how long. */
export const MAX_FAILED_SIGN_INS = 5;
export const LOCK_SECONDS = 15 * 60;
/** A session lasts a working day; signing in again makes a new one. */
export const SESSION_SECONDS = 12 * 3600;

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** Invites a person: answers the user and the random password, which is shown only this once. */
export async function inviteUser(s: Services, tenantId: string, email: string, role: UserRole) {
  const normalized = normalizeEmail(email);
  if (await getUserByEmailUnscoped(s.db, normalized)) {
    throw new ApiError("conflict", `A user with email '${normalized}' already exists; each email signs in to one tenant`);
  }
  const password = randomPassword();
  const h = await hashPassword(password);
  const user: UserRow = {
    id: newId("usr"),
    tenant_id: tenantId,
    email: normalized,
    role,
    password_hash: h.hash,
    password_salt: h.salt,
    password_iterations: h.iterations,
    failed_attempts: 0,
    locked_until: null,
    created_at: s.clock.seconds(),
  };
  await insertUser(s.db, user).catch((err) => {
    if (String(err).includes("UNIQUE constraint failed")) throw new ApiError("conflict", `A user with email '${normalized}' already exists`);
    throw err;
  });
  return { id: user.id, email: user.email, role: user.role, password };
}

export type SignInResult =
  | { ok: true; token: string; user: UserRow; csrf: string; expiresAt: number }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "locked"; until: number };

// Unknown emails are checked against this hash, so "no such user" takes as long as "wrong password".
let dummy: Promise<Awaited<ReturnType<typeof hashPassword>>> | null = null;

/** Checks email and password; a right one opens a session (its token goes in the cookie). */
export async function signIn(s: Services, email: string, password: string): Promise<SignInResult> {
  const now = s.clock.seconds();
  const user = await getUserByEmailUnscoped(s.db, normalizeEmail(email));
  if (!user) {
    dummy ??= hashPassword("not a password");
    await verifyPassword(password, await dummy);
    return { ok: false, reason: "invalid" };
  }
  if (user.locked_until !== null && user.locked_until > now) return { ok: false, reason: "locked", until: user.locked_until };
  const ok = await verifyPassword(password, {
    hash: user.password_hash,
    salt: user.password_salt,
    iterations: user.password_iterations,
  });
  if (!ok) {
    const after = await recordFailedSignIn(s.db, user.tenant_id, user.id, MAX_FAILED_SIGN_INS, now + LOCK_SECONDS);
    if (after?.locked_until && after.locked_until > now) return { ok: false, reason: "locked", until: after.locked_until };
    return { ok: false, reason: "invalid" };
  }
  if (user.failed_attempts > 0 || user.locked_until !== null) await clearFailedSignIns(s.db, user.tenant_id, user.id);
  await deleteExpiredSessions(s.db, user.tenant_id, user.id, now);
  const token = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const csrf = toBase64Url(crypto.getRandomValues(new Uint8Array(24)));
  const expiresAt = now + SESSION_SECONDS;
  await insertSession(s.db, {
    id: await sha256Hex(token),
    user_id: user.id,
    tenant_id: user.tenant_id,
    csrf_token: csrf,
    expires_at: expiresAt,
    created_at: now,
  });
  return { ok: true, token, user, csrf, expiresAt };
}

export interface SignedIn {
  user: UserRow;
  tenant: Tenant;
  csrf: string;
  /** SHA-256 of the cookie token: the session's id */
  sessionId: string;
}

/** The person behind a session cookie, or null when it is unknown or expired. */
export async function sessionUser(s: Services, token: string): Promise<SignedIn | null> {
  if (!token || token.length > 200) return null;
  const sessionId = await sha256Hex(token);
  const row = await getLiveSessionUnscoped(s.db, sessionId, s.clock.seconds());
  if (!row) return null;
  return { user: row.user, tenant: row.tenant, csrf: row.session.csrf_token, sessionId };
}

export async function signOut(s: Services, who: SignedIn): Promise<void> {
  await deleteSession(s.db, who.tenant.id, who.sessionId);
}
