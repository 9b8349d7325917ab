import { type ExtraStatements, type TenantRef, insertRecords, shardForTenant } from "../../db/shards";
import type { ModelDef } from "../../models";
import type { Services } from "../../services";
import type { Row } from "./validate";

export type { ExtraStatements, TenantRef };

export interface InsertResult {
  /** Rows written (appended, or upserted for entity models). */
  rows: number;
  /** Statements in the batch, extras included. */
  statements: number;
}

/**
 * Writes validated rows (from validateItems) of one model for one tenant, all or nothing:
 * every statement goes into one D1 batch on the tenant's shard, which D1 runs as a single
 * transaction. https://developers.cloudflare.com/d1/worker-api/d1-database/#batch
 *
 * Statement count is ceil(JSON size / 90 KB) (src/db/shards/records.ts): a 1000-item batch of
 * the reference's events takes 2 statements; a 1 MiB request body at most 12. `extraStatements`
 * (e.g. the idempotency record) are appended to the same batch so they commit, or fail, with
 * the rows.
 *
 * Stable contract, reused by the JSON routes, CSV upload and bucket ingestion.
 */
export async function insertRows(
  s: Services,
  tenant: TenantRef,
  model: ModelDef,
  rows: readonly Row[],
  extraStatements?: ExtraStatements,
): Promise<InsertResult> {
  const td = await shardForTenant(s, tenant);
  const statements = await insertRecords(td, model, rows, s.clock.seconds(), extraStatements);
  return { rows: rows.length, statements };
}
