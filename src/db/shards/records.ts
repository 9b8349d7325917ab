import { utf8Length } from "../../lib/utf8";
import { CUSTOM_COLUMN, getModel } from "../../models";
import type { ModelDef } from "../../models";
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

/** The catalog fields of a model that have a column of their own (custom fields share `custom_fields`). */
const columnFields = (model: ModelDef) => model.fields.filter((f) => !f.custom);

/**
 * A validated row as stored: the cells of the column fields, then, for a model with custom
 * fields, one object of the custom values that are set (null when none is).
 */
function storedRow(model: ModelDef, row: RecordRow): RecordRow {
  if (!model.customFields) return row;
  const out: unknown[] = [];
  const custom: Record<string, unknown> = {};
  let set = false;
  model.fields.forEach((f, i) => {
    const v = row[i] ?? null;
    if (!f.custom) out.push(v);
    else if (v !== null) {
      custom[f.name] = v;
      set = true;
    }
  });
  out.push(set ? custom : null);
  return out;
}

/**
 * The insert statement of a model: one row per element of the JSON array `?3`, each element
 * an array of cells in stored order (storedRow). Entity models upsert on their key (the unique
 * index `<model>_tenant_key`) and the new item replaces the stored one, custom values included;
 * event models append.
 */
export function insertSql(model: ModelDef): string {
  let sql = sqlCache.get(model);
  if (!sql) {
    const fields = columnFields(model);
    const cols = fields.map((f) => f.name);
    const cells = fields.map((f, i) => (f.type === "params" ? `nullif(value->${i}, 'null')` : `value->>${i}`));
    if (model.customFields) {
      cols.push(CUSTOM_COLUMN);
      cells.push(`nullif(value->${fields.length}, 'null')`);
    }
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

const auditCache = new WeakMap<ModelDef, string>();

/**
 * The statement that writes, for the rows of the JSON array `?3` (stored order) that update an
 * existing record, one row per changed field to the model's audit model (`auditedIn`): field
 * name, old and new value as text, `?4` as the time. It reads the records as they are before
 * the upsert, so it runs just before it in the same batch (one transaction). The key fields and
 * the time field (which every update moves) are not compared; custom fields are compared key by
 * key. Names in the SQL come from the catalog only.
 */
export function auditSql(model: ModelDef, audit: ModelDef): string {
  let sql = auditCache.get(model);
  if (!sql) {
    if (model.kind !== "entity" || !model.key?.length || !model.userField) throw new Error(`${model.name} cannot be audited: it needs a key and a user field`);
    const fields = columnFields(model);
    const at = (name: string) => fields.findIndex((f) => f.name === name);
    const join = model.key.map((k) => `m.${k} = r.value->>${at(k)}`).join(" AND ");
    const skip = new Set([...model.key, model.timeField ?? ""]);
    const triples = fields
      .map((f, i) => ({ f, i }))
      .filter(({ f }) => !skip.has(f.name))
      .map(({ f, i }) => `json_array('${f.name}', m.${f.name}, ${f.type === "params" ? `nullif(r.value->${i}, 'null')` : `r.value->>${i}`})`);
    // The audit model's columns (src/models/loyalty.ts `changes`), by name.
    const cols = `tenant_id, ingested_at, ${audit.userField}, field_name, old_value, new_value, source, changed_at`;
    const from = `FROM json_each(?3) AS r JOIN ${model.name} AS m ON m.tenant_id = ?1 AND ${join}`;
    const text = (v: string) => `nullif(CAST(${v} AS TEXT), '')`;
    sql =
      `INSERT INTO ${audit.name} (${cols}) ` +
      `SELECT ?1, ?2, m.${model.userField}, d.value->>0, ${text("d.value->>1")}, ${text("d.value->>2")}, 'ingestion', ?4 ` +
      `${from} JOIN json_each(json_array(${triples.join(", ")})) AS d WHERE (d.value->>1) IS NOT (d.value->>2)`;
    if (model.customFields) {
      const fresh = `coalesce(nullif(r.value->${fields.length}, 'null'), '{}')`;
      const stored = `coalesce(m.${CUSTOM_COLUMN}, '{}')`;
      sql +=
        ` UNION ALL SELECT ?1, ?2, m.${model.userField}, k.key, ${text(`${stored}->>k.key`)}, ${text(`${fresh}->>k.key`)}, 'ingestion', ?4 ` +
        `${from} JOIN json_each(json_patch(${stored}, ${fresh})) AS k WHERE (${stored}->>k.key) IS NOT (${fresh}->>k.key)`;
    }
    auditCache.set(model, sql);
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
  const chunks = chunkRows(model.customFields ? rows.map((r) => storedRow(model, r)) : rows);
  const audit = model.auditedIn ? getModel(model.auditedIn) : undefined;
  if (!audit) return chunks.map((json) => stmt.bind(td.tenantId, ingestedAt, json));
  const log = td.db.prepare(auditSql(model, audit));
  const at = new Date(ingestedAt * 1000).toISOString().slice(0, 19).replace("T", " ");
  return chunks.flatMap((json) => [log.bind(td.tenantId, ingestedAt, json, at), stmt.bind(td.tenantId, ingestedAt, json)]);
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
  return insertAnsweredKey(td, key, fingerprint, 201, "", now, expiresAt);
}

/**
 * The statement recording `key` with its answer until `expiresAt`. A plain insert: when the key
 * is held (answered, or in flight) it fails, and with it the whole batch it is part of.
 */
export function insertAnsweredKey(
  td: TenantData,
  key: string,
  fingerprint: string,
  status: number,
  response: string,
  now: number,
  expiresAt: number,
): D1PreparedStatement {
  return td.db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
    )
    .bind(td.tenantId, key, fingerprint, status, response, now, expiresAt);
}

/** The statement that drops `key` if it expired (so a batch can record it again). */
export function deleteExpiredKey(td: TenantData, key: string, now: number): D1PreparedStatement {
  return td.db.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND expires_at < ?3").bind(td.tenantId, key, now);
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

/** The largest row id of a table on the shard (every tenant's rows); 0 when empty. */
export async function maxRowId(td: TenantData, table: string): Promise<number> {
  const r = await td.db.prepare(`SELECT max(row_id) AS m FROM ${table}`).first<{ m: number | null }>();
  return r?.m ?? 0;
}

/**
 * Deletes the rows of `users` (by `column`) with row ids in (after, upTo], the tenant's only:
 * a range of the table's own b-tree, so the statement reads at most `upTo - after` rows whatever
 * the table size, and needs no index on the user column. Answers the user id of each row deleted.
 */
export async function deleteUserRowsInRange(
  td: TenantData,
  table: string,
  column: string,
  users: readonly string[],
  after: number,
  upTo: number,
): Promise<string[]> {
  const { results } = await td.db
    .prepare(
      `DELETE FROM ${table} WHERE row_id > ?1 AND row_id <= ?2 AND tenant_id = ?3 AND ${column} IN (SELECT value FROM json_each(?4))
       RETURNING ${column} AS u`,
    )
    .bind(after, upTo, td.tenantId, JSON.stringify(users))
    .all<{ u: string }>();
  return results.map((r) => r.u);
}

/**
 * Deletes up to `limit` rows of `users` through an index that starts with (tenant_id, column);
 * answers the user id of each row deleted (fewer than `limit`: none are left).
 */
export async function deleteUserRowsIndexed(
  td: TenantData,
  table: string,
  column: string,
  users: readonly string[],
  limit: number,
): Promise<string[]> {
  const { results } = await td.db
    .prepare(
      `DELETE FROM ${table} WHERE row_id IN
         (SELECT row_id FROM ${table} WHERE tenant_id = ?1 AND ${column} IN (SELECT value FROM json_each(?2)) LIMIT ?3)
       RETURNING ${column} AS u`,
    )
    .bind(td.tenantId, JSON.stringify(users), limit)
    .all<{ u: string }>();
  return results.map((r) => r.u);
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
