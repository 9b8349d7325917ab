import { type TenantRef, getKey, insertDoneKey, insertRecords, shardForTenant } from "../../db/shards";
import type { ModelDef } from "../../models";
import type { Services } from "../../services";
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
  opts: Pick<ValidateOptions, "source" | "now"> = {},
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
 * How long the record that marks a chunk as written is kept: longer than a chain can be
 * retried or left stalled and resumed, and than a message can wait in the queue (retention
 * is at most 14 days), so any repeat of the chunk still finds it.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
const CHUNK_GUARD_SECONDS = 15 * 24 * 60 * 60;

/**
 * Writes a chunk's rows once, however often the chunk is processed. The rows and a record
 * under `key` commit in one D1 batch on the tenant's shard, so a repeat after a crash
 * between this write and the checkpoint (which lives in the control DB) finds the record and
 * writes nothing. `key` must contain a space: no client can send such an Idempotency-Key
 * (see IDEMPOTENCY_KEY), so the two never collide. Returns whether this call wrote.
 */
export async function insertRowsOnce(s: Services, tenant: TenantRef, model: ModelDef, rows: Row[], key: string, fingerprint: string): Promise<boolean> {
  if (!rows.length) return false;
  const td = await shardForTenant(s, tenant);
  const written = async () => (await getKey(td, key)) !== null;
  if (await written()) return false;
  const now = s.clock.seconds();
  try {
    await insertRecords(td, model, rows, now, [insertDoneKey(td, key, fingerprint, now, now + CHUNK_GUARD_SECONDS)]);
    return true;
  } catch (err) {
    // A concurrent run of the same chunk committed first: its batch holds these rows.
    if (!(await written())) throw err;
    return false;
  }
}
