import type { Env } from "../../env";
import { TtlCache } from "../../lib/ttl-cache";
import type { ModelDef } from "../../models";
import { type TenantData, tenantData } from "../../db/shards";
import { utf8Length } from "./formats";
import type { Row } from "./validate";

/**
 * Largest JSON parameter per statement. D1 allows 100 KB per SQL statement and 100 bound
 * parameters per query; each insert statement binds three parameters (tenant, time, rows as
 * one JSON array read with json_each) and stays under 90 KB, leaving room for the SQL text.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const MAX_STATEMENT_JSON_BYTES = 90_000;

/** A tenant by id (its shard is looked up in the control DB) or already resolved. */
export type TenantRef = string | { tenantId: string; shard: number };

/** Statements committed in the same batch as the rows (e.g. the idempotency record), after them. */
export type ExtraStatements = D1PreparedStatement[] | ((db: D1Database) => D1PreparedStatement[]);

export interface InsertResult {
  /** Rows written (appended, or upserted for entity models). */
  rows: number;
  /** Statements in the batch, extras included. */
  statements: number;
}

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
export function chunkRows(rows: readonly Row[]): string[] {
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

const shardCache = new TtlCache<number>(60_000);

/** The tenant's data handle, via the shard router. */
export async function resolveTenant(env: Env, tenant: TenantRef): Promise<TenantData> {
  if (typeof tenant !== "string") return tenantData(env, tenant);
  let shard = shardCache.get(tenant);
  if (shard === undefined) {
    const row = await env.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenant).first<{ shard: number }>();
    if (!row) throw new Error(`unknown tenant ${tenant}`);
    shard = row.shard;
    shardCache.set(tenant, shard);
  }
  return tenantData(env, { tenantId: tenant, shard });
}

/**
 * Writes validated rows (from validateItems) of one model for one tenant, all or nothing:
 * every statement goes into one D1 batch, which D1 runs as a single transaction.
 * https://developers.cloudflare.com/d1/worker-api/d1-database/#batch
 *
 * Statement count is ceil(JSON size / 90 KB): a 1000-item batch of the reference's events
 * (~150 B each) takes 2 statements; a 1 MiB request body at most 12. `extraStatements`
 * (e.g. the idempotency record) are appended to the same batch so they commit, or fail,
 * with the rows.
 *
 * Stable contract, reused by the JSON routes, CSV upload and bucket ingestion.
 */
export async function insertRows(
  env: Env,
  tenant: TenantRef,
  model: ModelDef,
  rows: readonly Row[],
  extraStatements?: ExtraStatements,
): Promise<InsertResult> {
  const td = await resolveTenant(env, tenant);
  const statements = insertStatements(td, model, rows);
  if (extraStatements) statements.push(...(typeof extraStatements === "function" ? extraStatements(td.db) : extraStatements));
  if (statements.length) await td.db.batch(statements);
  return { rows: rows.length, statements: statements.length };
}

/** The insert statements of one model's rows, for callers that batch several models together. */
export function insertStatements(
  td: TenantData,
  model: ModelDef,
  rows: readonly Row[],
  ingestedAt = Math.floor(Date.now() / 1000),
): D1PreparedStatement[] {
  if (!rows.length) return [];
  const stmt = td.db.prepare(insertSql(model));
  return chunkRows(rows).map((json) => stmt.bind(td.tenantId, ingestedAt, json));
}
