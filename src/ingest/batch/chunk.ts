import type { Env } from "../../env";
import type { ModelDef } from "../../models";
import type { TenantData } from "../../db/shards";
import { type TenantRef, insertRows, resolveTenant } from "./insert";
import { type Row, type ValidateOptions, validateItems } from "./validate";

/**
 * Helpers for chunked file ingestion (CSV uploads, bucket sources), where one bad record must
 * not refuse the others and a chunk may be processed more than once.
 */

export interface RecordIssue {
  /** 1-based line (or row) of the file the record starts on */
  line: number;
  field: string;
  message: string;
}

/**
 * Validates records one by one in effect: the good ones become rows, each bad one gives its
 * errors with its line. Two validateItems passes only when something is wrong (validateItems
 * is all or nothing per batch).
 */
export function validatePartial(
  model: ModelDef,
  items: readonly unknown[],
  lines: readonly number[],
  opts: Pick<ValidateOptions, "source"> = {},
): { rows: Row[]; errors: RecordIssue[]; rejected: number } {
  const first = validateItems(model, items, { ...opts, maxErrors: Number.POSITIVE_INFINITY });
  if (first.ok) return { rows: first.rows, errors: [], rejected: 0 };
  const bad = new Set<number>();
  const errors: RecordIssue[] = [];
  for (const e of first.errors) {
    bad.add(e.index);
    errors.push({ line: lines[e.index] ?? 0, field: e.field, message: `${e.field} ${e.reason}` });
  }
  const good = items.filter((_, i) => !bad.has(i));
  const second = validateItems(model, good, opts);
  if (!second.ok) throw new Error(`rows valid one by one failed together: ${JSON.stringify(second.errors[0])}`);
  return { rows: second.rows, errors, rejected: bad.size };
}

/**
 * How long the record that marks a chunk as written is kept: longer than a message can wait
 * in the queue (retention is at most 14 days), so any redelivery still finds it.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
const CHUNK_GUARD_SECONDS = 15 * 24 * 60 * 60;

async function chunkWritten(td: TenantData, key: string): Promise<boolean> {
  const row = await td.db.prepare("SELECT 1 AS hit FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2").bind(td.tenantId, key).first();
  return row !== null;
}

function markWritten(db: D1Database, tenantId: string, key: string, fingerprint: string): D1PreparedStatement {
  const t = Math.floor(Date.now() / 1000);
  return db
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, response, created_at, expires_at)
       VALUES (?1, ?2, ?3, 201, '', ?4, ?5)`,
    )
    .bind(tenantId, key, fingerprint, t, t + CHUNK_GUARD_SECONDS);
}

/**
 * Writes a chunk's rows once, however often the chunk is processed. The rows and a record
 * under `key` commit in one D1 batch on the tenant's shard, so a redelivery after a crash
 * between this write and the checkpoint (which lives in the control DB) finds the record and
 * writes nothing. `key` must contain a space: no client can send such an Idempotency-Key
 * (see IDEMPOTENCY_KEY), so the two never collide. Returns whether this call wrote.
 */
export async function insertRowsOnce(env: Env, tenant: TenantRef, model: ModelDef, rows: Row[], key: string, fingerprint: string): Promise<boolean> {
  if (!rows.length) return false;
  const td = await resolveTenant(env, tenant);
  if (await chunkWritten(td, key)) return false;
  try {
    await insertRows(env, tenant, model, rows, (db) => [markWritten(db, td.tenantId, key, fingerprint)]);
    return true;
  } catch (err) {
    // A concurrent delivery of the same message committed first: its batch holds these rows.
    if (!(await chunkWritten(td, key))) throw err;
    return false;
  }
}
