import { utf8Length } from "../../lib/utf8";
import type { ModelDef } from "../../models";
import { fenceGuard } from "./moves";
import type { TenantData } from "./router";

/**
 * Ingested records on the data shards: batch inserts, Idempotency-Key records, user-data
 * deletion, and the reads the ingestion API answers from. Every statement filters on, or
 * writes, the handle's tenant id.
 */

// ---------------------------------------------------------------- inserts

/**
 * Largest JSON parameter per statement. D1 allows 100 KB per SQL statement and 100 bound
 * parameters per query; each insert statement binds three parameters (tenant, time, rows as
 * one JSON array read with json_each) and stays under 90 KB, leaving room for the SQL text.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const MAX_STATEMENT_JSON_BYTES = 90_000;

/** A validated row: one cell per field of the model, in `model.fields` order (src/ingest/batch/validate.ts). */
export type RecordRow = readonly unknown[];

/** Statements committed in the same batch as the rows (e.g. the idempotency record), after them. */
export type ExtraStatements = D1PreparedStatement[] | ((db: D1Database) => D1PreparedStatement[]);

const sqlCache = new WeakMap<ModelDef, string>();

/**
 * The insert statement of a model: one row per element of the JSON array `?3`, each element
 * an array of cells in `model.fields` order. Entity models upsert on their key (the unique
 * index `<model>_tenant_key`) and the new item replaces the stored one; event models append.
 */
export function insertSql(model: ModelDef): string {
  let sql = sqlCache.get(model);
  if (!sql) {
    const cols = model.fields.map((f) => f.name);
    const cells = model.fields.map((f, i) => (f.type === "params" ? `nullif(value->${i}, 'null')` : `value->>${i}`));
    sql = `INSERT INTO ${model.name} (tenant_id, ingested_at, ${cols.join(", ")}) SELECT ?1, ?2, ${cells.join(", ")} FROM json_each(?3)`;
    if (model.kind === "entity" && model.key?.length) {
      const keys = new Set(model.key);
      const set = ["ingested_at", ...cols.filter((c) => !keys.has(c))].map((c) => `${c} = excluded.${c}`);
      // `WHERE true` resolves the parsing ambiguity of INSERT ... SELECT ... ON CONFLICT.
      // https://www.sqlite.org/lang_upsert.html#parsing_ambiguity
      sql += ` WHERE true ON CONFLICT (tenant_id, ${model.key.join(", ")}) DO UPDATE SET ${set.join(", ")}`;
    }
    sqlCache.set(model, sql);
  }
  return sql;
}

/** Splits rows into JSON arrays of at most MAX_STATEMENT_JSON_BYTES bytes each. */
export function chunkRows(rows: readonly RecordRow[]): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const s = JSON.stringify(row);
    const len = utf8Length(s) + 1;
    if (parts.length && bytes + len > MAX_STATEMENT_JSON_BYTES) {
      chunks.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(s);
    bytes += len;
  }
  if (parts.length) chunks.push(`[${parts.join(",")}]`);
  return chunks;
}

/**
 * The insert statements of one model's rows: ceil(JSON size / 90 KB) of them (a 1000-item
 * batch of the reference's events, ~150 B each, takes 2). For callers that batch several
 * models, or other statements, together.
 */
export function insertStatements(td: TenantData, model: ModelDef, rows: readonly RecordRow[], ingestedAt: number): D1PreparedStatement[] {
  if (!rows.length) return [];
  const stmt = td.db.prepare(insertSql(model));
  return chunkRows(rows).map((json) => stmt.bind(td.tenantId, ingestedAt, json));
}

/**
 * Runs statements on the tenant's shard as one D1 batch, which D1 runs as a single
 * transaction: all or nothing. https://developers.cloudflare.com/d1/worker-api/d1-database/#batch
 */
export async function commitOnShard(td: TenantData, statements: D1PreparedStatement[]): Promise<D1Result[]> {
  return statements.length ? td.db.batch(statements) : [];
}

/** Writes one model's rows with `extra` statements (resolved against the shard) in one transaction; answers the statement count. */
export async function insertRecords(td: TenantData, model: ModelDef, rows: readonly RecordRow[], ingestedAt: number, extra?: ExtraStatements): Promise<number> {
  const statements = insertStatements(td, model, rows, ingestedAt);
  if (extra) statements.push(...(typeof extra === "function" ? extra(td.db) : extra));
  await commitOnShard(td, statements);
  return statements.length;
}

// ---------------------------------------------------------------- Idempotency-Key records

/** A stored Idempotency-Key: `status`/`response` are NULL while the first request is in flight. */
export interface KeyRecord {
  fingerprint: string;
  status: number | null;
  response: string | null;
}

/**
 * Claims `key` in one statement: inserts an in-flight record, or takes over an expired one.
 * False when the key is held (in flight or answered).
 */
export async function claimKey(td: TenantData, key: string, fingerprint: string, now: number, expiresAt: number): Promise<boolean> {
  const claimed = await td.db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5)
       ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, response = NULL,
         created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE idempotency_keys.expires_at < ?4
       RETURNING 1 AS claimed`,
    )
    .bind(td.tenantId, key, fingerprint, now, expiresAt)
    .first<{ claimed: number }>();
  return claimed !== null;
}

/** The one loader of an Idempotency-Key record; null when there is none. */
export async function getKey(td: TenantData, key: string): Promise<KeyRecord | null> {
  return td.db
    .prepare("SELECT fingerprint, status, response FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2")
    .bind(td.tenantId, key)
    .first<KeyRecord>();
}

/** The statement that stores the answer of a claimed key, kept `ttlSeconds` from its claim; batch it with the writes it guards. */
export function storeKeyResponse(td: TenantData, key: string, status: number, body: string, ttlSeconds: number): D1PreparedStatement {
  return td.db
    .prepare(
      `UPDATE idempotency_keys SET status = ?3, response = ?4, expires_at = created_at + ?5
       WHERE tenant_id = ?1 AND key = ?2 AND status IS NULL`,
    )
    .bind(td.tenantId, key, status, body, ttlSeconds);
}

/** Drops an in-flight claim (the request ended without an answer to keep). */
export async function releaseKey(td: TenantData, key: string): Promise<void> {
  await td.db.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND status IS NULL").bind(td.tenantId, key).run();
}

/**
 * The statement recording `key` as done (status 201, empty answer) until `expiresAt`: the
 * marker a file chunk commits with its rows so a repeat of the chunk writes nothing.
 */
export function insertDoneKey(td: TenantData, key: string, fingerprint: string, now: number, expiresAt: number): D1PreparedStatement {
  return td.db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, ?3, 201, '', ?4, ?5)`,
    )
    .bind(td.tenantId, key, fingerprint, now, expiresAt);
}

/**
 * Deletes expired records of the shard (every tenant's), a bounded number at a time: run along
 * with writes. A tenant being moved off the shard is left alone: its fence would refuse the
 * delete, and with it the batch of the tenant whose write carries this statement.
 */
export function purgeExpiredKeys(db: D1Database, now: number, limit = 100): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM idempotency_keys WHERE (tenant_id, key) IN
         (SELECT tenant_id, key FROM idempotency_keys WHERE expires_at < ?1
            AND tenant_id NOT IN (SELECT tenant_id FROM tenant_fences) LIMIT ?2)`,
    )
    .bind(now, limit);
}

// ---------------------------------------------------------------- end users

/**
 * Deletes every row of one end user from each (model, column) pair in one transaction, with
 * `extra` statements after them; answers the rows deleted per pair, in order. The fence guard
 * goes first: while the tenant is being moved off this shard (frozen, or already moved and
 * served by another shard) the deletion is refused, even when it would match no row here.
 */
export async function deleteUserRows(
  td: TenantData,
  columns: readonly { model: string; column: string }[],
  userId: string,
  extra: D1PreparedStatement[] = [],
): Promise<number[]> {
  const statements = columns.map(({ model, column }) =>
    td.db.prepare(`DELETE FROM ${model} WHERE tenant_id = ?1 AND ${column} = ?2`).bind(td.tenantId, userId),
  );
  const results = await td.db.batch([fenceGuard(td.db, td.tenantId), ...statements, ...extra]);
  return columns.map((_, i) => results[i + 1]?.meta.changes ?? 0);
}

/** The time (as stored, `YYYY-MM-DD HH:MM:SS`) of the user's latest survey response marked completed; null when none. */
export async function lastCompletedSurveyAt(td: TenantData, surveys: ModelDef, userId: string): Promise<string | null> {
  if (!surveys.timeField || !surveys.userField) throw new Error(`${surveys.name} has no time or user field`);
  const row = await td.db
    .prepare(`SELECT max(${surveys.timeField}) AS at FROM ${surveys.name} WHERE tenant_id = ?1 AND ${surveys.userField} = ?2 AND completed = 1`)
    .bind(td.tenantId, userId)
    .first<{ at: string | null }>();
  return row?.at ?? null;
}
