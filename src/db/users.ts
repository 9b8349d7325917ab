import { and, eq, gt, lt, sql } from "drizzle-orm";
import type { ControlDb } from "./client";
import { type SessionRow, type Tenant, type UserRow, sessions, tenants, users } from "./schema";

/**
 * Back-office people (table users) and their sessions (table sessions). The services in
 * src/users/ are the only callers; they make ids, hashes and times, this file reads and
 * writes rows.
 */

export async function insertUser(db: ControlDb, user: UserRow): Promise<void> {
  await db.insert(users).values(user);
}

/** The one loader of a user row, scoped by tenant. */
export function getUser(db: ControlDb, tenantId: string, id: string): Promise<UserRow | undefined> {
  return db
    .select()
    .from(users)
    .where(and(eq(users.tenant_id, tenantId), eq(users.id, id)))
    .get();
}

/**
 * A user by (lower-cased) email. Unscoped: the sign-in form carries only the email and the
 * password; the tenant is what this lookup finds out (emails are unique across tenants).
 */
export function getUserByEmailUnscoped(db: ControlDb, email: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.email, email)).get();
}

/** A tenant's people, oldest first. */
export function listUsers(db: ControlDb, tenantId: string): Promise<UserRow[]> {
  return db.select().from(users).where(eq(users.tenant_id, tenantId)).orderBy(users.created_at, users.id).all();
}

/**
 * Counts one wrong password in one statement (two wrong passwords at once both count);
 * the attempt that reaches `max` locks the account until `lockUntil` and starts the count
 * again. Answers the row as it is afterwards.
 */
export function recordFailedSignIn(
  db: ControlDb,
  tenantId: string,
  userId: string,
  max: number,
  lockUntil: number,
): Promise<Pick<UserRow, "failed_attempts" | "locked_until"> | undefined> {
  return db
    .update(users)
    .set({
      failed_attempts: sql`CASE WHEN ${users.failed_attempts} + 1 >= ${max} THEN 0 ELSE ${users.failed_attempts} + 1 END`,
      locked_until: sql`CASE WHEN ${users.failed_attempts} + 1 >= ${max} THEN ${lockUntil} ELSE ${users.locked_until} END`,
    })
    .where(and(eq(users.tenant_id, tenantId), eq(users.id, userId)))
    .returning({ failed_attempts: users.failed_attempts, locked_until: users.locked_until })
    .get();
}

/** A right password: the count of wrong ones starts again. */
export async function clearFailedSignIns(db: ControlDb, tenantId: string, userId: string): Promise<void> {
  await db
    .update(users)
    .set({ failed_attempts: 0, locked_until: null })
    .where(and(eq(users.tenant_id, tenantId), eq(users.id, userId)));
}

// ---------------------------------------------------------------- sessions

export async function insertSession(db: ControlDb, session: SessionRow): Promise<void> {
  await db.insert(sessions).values(session);
}

export type SessionWithUser = { session: SessionRow; user: UserRow; tenant: Tenant };

/**
 * A live session by the SHA-256 of its cookie token, with its user and tenant. Unscoped: a
 * request carries only the cookie; the tenant is what this lookup finds out.
 */
export async function getLiveSessionUnscoped(db: ControlDb, idHash: string, now: number): Promise<SessionWithUser | undefined> {
  return db
    .select({ session: sessions, user: users, tenant: tenants })
    .from(sessions)
    .innerJoin(users, and(eq(users.id, sessions.user_id), eq(users.tenant_id, sessions.tenant_id)))
    .innerJoin(tenants, eq(tenants.id, sessions.tenant_id))
    .where(and(eq(sessions.id, idHash), gt(sessions.expires_at, now)))
    .get();
}

/** Signs out: the session row goes. Scoped by tenant like every other write. */
export async function deleteSession(db: ControlDb, tenantId: string, idHash: string): Promise<void> {
  await db.delete(sessions).where(and(eq(sessions.tenant_id, tenantId), eq(sessions.id, idHash)));
}

/** Expired sessions of one user go when the user signs in again (keeps the table small without a cron). */
export async function deleteExpiredSessions(db: ControlDb, tenantId: string, userId: string, now: number): Promise<void> {
  await db
    .delete(sessions)
    .where(and(eq(sessions.tenant_id, tenantId), eq(sessions.user_id, userId), lt(sessions.expires_at, now)));
}
