/**
 * TEMPORARY adapter standing in for src/services/ingest (validateItems / insertRows) until the
 * `ingest` branch is merged; same signatures. Deleted at the merge: nothing else may import it.
 */
import type { Env } from "../../env";
import type { ModelDef } from "../../models";
import { shardDb } from "../shards";

export type Cell = string | number | null;
export type Row = Cell[];
export interface ItemError {
  index: number;
  field: string;
  reason: string;
}
export type ValidateResult = { ok: true; rows: Row[] } | { ok: false; errors: ItemError[]; total: number };

export function validateItems(
  model: ModelDef,
  items: readonly Record<string, string>[],
  opts: { source?: "text"; maxErrors?: number } = {},
): ValidateResult {
  const errors: ItemError[] = [];
  const rows: Row[] = [];
  items.forEach((item, index) => {
    const row: Row = [];
    for (const f of model.fields) {
      const v = item[f.name]?.trim() ?? "";
      if (v === "") {
        if (f.required && f.name !== "timestamp") errors.push({ index, field: f.name, reason: "is required" });
        row.push(null);
      } else if (f.type === "float" || f.type === "integer") {
        if (!Number.isFinite(Number(v))) errors.push({ index, field: f.name, reason: `must be a number, got "${v}"` });
        row.push(Number(v));
      } else row.push(v);
    }
    rows.push(row);
  });
  return errors.length ? { ok: false, errors: errors.slice(0, opts.maxErrors ?? 100), total: errors.length } : { ok: true, rows };
}

export async function insertRows(
  env: Env,
  tenant: { tenantId: string; shard: number },
  model: ModelDef,
  rows: readonly Row[],
  extra: (db: D1Database) => D1PreparedStatement[] = () => [],
) {
  const db = shardDb(env, tenant.shard);
  const cols = model.fields.map((f) => f.name);
  const sql = `INSERT INTO ${model.name} (tenant_id, ingested_at, ${cols.join(", ")}) SELECT ?1, ?2, ${cols.map((_, i) => `value->>${i}`).join(", ")} FROM json_each(?3)`;
  const stmts = rows.length ? [db.prepare(sql).bind(tenant.tenantId, Math.floor(Date.now() / 1000), JSON.stringify(rows))] : [];
  stmts.push(...extra(db));
  if (stmts.length) await db.batch(stmts);
  return { rows: rows.length, statements: stmts.length };
}
