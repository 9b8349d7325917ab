/**
 * Ingestion core, shared by the JSON routes (src/routes/ingest), CSV upload and bucket
 * ingestion: validate items against the model catalog, then write them to the tenant's shard
 * (the SQL is in src/db/shards/records.ts).
 *
 *   const v = validateItems(model, items);            // { ok, rows } | { ok: false, errors: [{ index, field, reason }] }
 *   if (v.ok) await insertRows(s, tenantId, model, v.rows, extraStatements);
 */
export { validateItems, MAX_ITEM_BYTES, MAX_STRING } from "./validate";
export type { Cell, ItemError, Row, ValidateOptions, ValidateResult } from "./validate";
export { insertRows } from "./insert";
export type { ExtraStatements, InsertResult, TenantRef } from "./insert";
export { MAX_STATEMENT_JSON_BYTES, chunkRows, insertSql, insertStatements } from "../../db/shards";
export { claimIdempotencyKey, keyInBatch, purgeExpired, IDEMPOTENCY_KEY, IDEMPOTENCY_TTL_SECONDS } from "./idempotency";
export type { Claim, StoredResponse } from "./idempotency";
export { insertRowsOnce, validatePartial } from "./chunk";
export type { RecordIssue } from "./chunk";
