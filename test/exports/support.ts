import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import { ExportBody } from "../../src/exports/definition";
import type { ExportCompiler, Row } from "../../src/exports/types";
import { type TenantData, tenantData } from "../../src/db/shards";
import { createTenant } from "../helpers";

export const e = env as unknown as Env;

/** A fresh tenant and its shard handle. */
export async function freshTenant(name = "t"): Promise<TenantData> {
  const t = await createTenant(name);
  const row = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(t.id).first<{ shard: number }>();
  return tenantData(e, { tenantId: t.id, shard: row?.shard ?? -1 });
}

/** Inserts rows straight into the tenant's shard table (columns from the row keys). */
export async function insertRows(td: TenantData, table: string, rows: Record<string, unknown>[], ingestedAt = 1000) {
  const stmts = rows.map((r) => {
    const full = { tenant_id: td.tenantId, ingested_at: ingestedAt, ...r };
    const cols = Object.keys(full);
    return td.db
      .prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map((_, i) => `?${i + 1}`).join(", ")})`)
      .bind(...cols.map((c) => (full as Record<string, unknown>)[c] ?? null));
  });
  for (let i = 0; i < stmts.length; i += 100) await td.db.batch(stmts.slice(i, i + 100));
}

/** Runs the compiled chunks to exhaustion; returns the output rows and the statements used. */
export async function runAll(compiler: ExportCompiler & { output(r: Row): Row }, td: TenantData, limit = 1000) {
  const rows: Row[] = [];
  const statements: { sql: string; params: unknown[] }[] = [];
  let cursor = null as Parameters<ExportCompiler["chunk"]>[0];
  for (let guard = 0; guard < 10_000; guard++) {
    const q = compiler.chunk(cursor, limit);
    statements.push(q);
    const { results } = await td.db.prepare(q.sql).bind(...q.params).all<Row>();
    for (const r of results) rows.push(compiler.output(r));
    if (results.length < limit) return { rows, statements };
    const last = results[results.length - 1];
    if (!last) return { rows, statements };
    cursor = compiler.nextCursor(last);
  }
  throw new Error("chunk chain did not end");
}

/** What the compiler's count query answers on the tenant's shard (a run's progress total). */
export async function countAll(compiler: ExportCompiler, td: TenantData): Promise<number | undefined> {
  const q = compiler.count();
  return (await td.db.prepare(q.sql).bind(...q.params).first<{ n: number }>())?.n;
}

export const body = (b: Record<string, unknown>): ExportBody => ExportBody.parse({ name: "t", ...b });
