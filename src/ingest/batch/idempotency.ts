import type { TenantData } from "../../db/shards";

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

const now = () => Math.floor(Date.now() / 1000);

/**
 * Claims an Idempotency-Key for a tenant (draft-ietf-httpapi-idempotency-key-header): one
 * statement inserts an in-flight record, or takes over an expired one; when the key is held,
 * a second read says whether to replay, refuse as in flight (409) or as reused (422).
 * `complete` gives the statement that stores the response; put it in the same batch as the
 * writes it guards.
 */
export async function claimIdempotencyKey(td: TenantData, key: string, fingerprint: string, retry = true): Promise<Claim> {
  const t = now();
  const claimed = await td.db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5)
       ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, response = NULL,
         created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE idempotency_keys.expires_at < ?4
       RETURNING 1 AS claimed`,
    )
    .bind(td.tenantId, key, fingerprint, t, t + IN_FLIGHT_SECONDS)
    .first<{ claimed: number }>();
  if (claimed) {
    return {
      kind: "claimed",
      complete: (res) =>
        td.db
          .prepare(
            `UPDATE idempotency_keys SET status = ?3, response = ?4, expires_at = created_at + ?5
             WHERE tenant_id = ?1 AND key = ?2 AND status IS NULL`,
          )
          .bind(td.tenantId, key, res.status, res.body, IDEMPOTENCY_TTL_SECONDS),
      release: async () => {
        await td.db
          .prepare("DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND status IS NULL")
          .bind(td.tenantId, key)
          .run();
      },
    };
  }
  const row = await td.db
    .prepare("SELECT fingerprint, status, response FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2")
    .bind(td.tenantId, key)
    .first<{ fingerprint: string; status: number | null; response: string | null }>();
  // Gone between the two statements (released by a failed first request): claim again.
  if (!row) return retry ? claimIdempotencyKey(td, key, fingerprint, false) : { kind: "in_flight" };
  if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
  if (row.status === null || row.response === null) return { kind: "in_flight" };
  return { kind: "replay", response: { status: row.status, body: row.response } };
}

/** Deletes expired records of the shard, a bounded number at a time (run along with writes). */
export function purgeExpired(db: D1Database, limit = 100): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM idempotency_keys WHERE (tenant_id, key) IN
         (SELECT tenant_id, key FROM idempotency_keys WHERE expires_at < ?1 LIMIT ?2)`,
    )
    .bind(now(), limit);
}
