import { e } from "./helpers";

/** Rows of a table for a tenant, read on the tenant's shard. */
async function shardOf(tenantId: string): Promise<D1Database> {
  const t = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  return (e as unknown as Record<string, D1Database>)[`DATA_${t?.shard}`] as D1Database;
}

export async function countMembers(tenantId: string, segment: string): Promise<number> {
  const db = await shardOf(tenantId);
  const r = await db.prepare("SELECT count(*) AS n FROM persona_members WHERE tenant_id = ?1 AND segment = ?2").bind(tenantId, segment).first<{ n: number }>();
  return r?.n ?? 0;
}

export async function countVectors(tenantId: string, segment: string): Promise<number> {
  const db = await shardOf(tenantId);
  const r = await db.prepare("SELECT count(*) AS n FROM segment_vectors WHERE tenant_id = ?1 AND segment_id = ?2").bind(tenantId, segment).first<{ n: number }>();
  return r?.n ?? 0;
}

/** Waits until no recompute of the tenant runs (a published result may still be cleaning up). */
export async function waitIdle(tenantId: string): Promise<void> {
  const { waitFor } = await import("../helpers");
  await waitFor(async () => {
    const r = await e.DB.prepare("SELECT count(*) AS n FROM segment_runs WHERE tenant_id = ?1 AND status = 'running'").bind(tenantId).first<{ n: number }>();
    return r?.n === 0 ? true : undefined;
  }, "the tenant's recomputes to end");
}
