import { type TenantData, claimKey, deleteExpiredKey, getKey, insertAnsweredKey, purgeExpiredKeys, releaseKey, storeKeyResponse } from "../../db/shards";
import type { Clock } from "../../services";

/** How long a stored response is replayed (at least 24 hours). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** How long an in-flight claim blocks duplicates before a crashed request's key can be reused. */
export const IN_FLIGHT_SECONDS = 60;
/** Printable ASCII, 1 to 255 characters (a UUID is the usual choice). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export interface StoredResponse {
  status: number;
  body: string;
}

export type Claim =
  /** First use of the key: run the request, then store its response with `complete`. */
  | { kind: "claimed"; complete(res: StoredResponse): D1PreparedStatement; release(): Promise<void> }
  /** The key's response is stored and the request is the same: answer it again. */
  | { kind: "replay"; response: StoredResponse }
  /** The first request with this key is still running. */
  | { kind: "in_flight" }
  /** The key was used for a different request (body, method or path). */
  | { kind: "mismatch" };

/**
 * Claims an Idempotency-Key for a tenant (draft-ietf-httpapi-idempotency-key-header): one
 * statement inserts an in-flight record, or takes over an expired one; when the key is held,
 * a second read says whether to replay, refuse as in flight (409) or as reused (422).
 * `complete` gives the statement that stores the response; put it in the same batch as the
 * writes it guards.
 */
export async function claimIdempotencyKey(clock: Clock, td: TenantData, key: string, fingerprint: string, retry = true): Promise<Claim> {
  const t = clock.seconds();
  if (await claimKey(td, key, fingerprint, t, t + IN_FLIGHT_SECONDS)) {
    return {
      kind: "claimed",
      complete: (res) => storeKeyResponse(td, key, res.status, res.body, IDEMPOTENCY_TTL_SECONDS),
      release: () => releaseKey(td, key),
    };
  }
  const held = await heldKey(td, key, fingerprint);
  // Gone between the two statements (released by a failed first request): claim again.
  if (!held) return retry ? claimIdempotencyKey(clock, td, key, fingerprint, false) : { kind: "in_flight" };
  return held;
}

/** Why a held key refuses a request: replay, in flight or mismatch; null when the key is free. */
async function heldKey(td: TenantData, key: string, fingerprint: string): Promise<Exclude<Claim, { kind: "claimed" }> | null> {
  const row = await getKey(td, key);
  if (!row) return null;
  if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
  if (row.status === null || row.response === null) return { kind: "in_flight" };
  return { kind: "replay", response: { status: row.status, body: row.response } };
}

/**
 * An Idempotency-Key recorded in the same D1 batch as the writes it guards, with no claim before
 * them: one round trip to the shard instead of two, for requests whose only writes are that
 * batch. `statements(res)` drop the key if expired and insert it with its answer (a plain insert,
 * so a held key fails the whole batch); after a failed batch, `held()` says whether the key was
 * the reason (replay, in flight, mismatch) or null (the failure was something else).
 */
export function keyInBatch(clock: Clock, td: TenantData, key: string, fingerprint: string) {
  const t = clock.seconds();
  return {
    statements: (res: StoredResponse): D1PreparedStatement[] => [
      deleteExpiredKey(td, key, t),
      insertAnsweredKey(td, key, fingerprint, res.status, res.body, t, t + IDEMPOTENCY_TTL_SECONDS),
      purgeExpiredKeys(td.db, t),
    ],
    held: () => heldKey(td, key, fingerprint),
  };
}

/** Deletes expired records of the shard, a bounded number at a time (run along with writes). */
export function purgeExpired(clock: Clock, db: D1Database, limit = 100): D1PreparedStatement {
  return purgeExpiredKeys(db, clock.seconds(), limit);
}
