import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import { shardDb } from "../../src/db/shards";

export const e = env as unknown as Env;

export const action = (i: number, user = `u${i}`) => ({
  timestamp: "2019-01-01 15:04:05",
  user_id: user,
  action_id: "2002",
  action_name: "buy_item",
  action_params: [{ key: "item_id", value: String(3000 + i) }],
});

export const actions = (n: number, user?: string) => Array.from({ length: n }, (_, i) => action(i, user));

/** Rows of a tenant in a table, read from every shard (so a row on the wrong shard is seen too). */
export async function countRows(tenantId: string, table: string, where = "1 = 1"): Promise<number> {
  let n = 0;
  for (const s of [0, 1]) {
    const r = await shardDb(e, s)
      .prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?1 AND ${where}`)
      .bind(tenantId)
      .first<{ n: number }>();
    n += r?.n ?? 0;
  }
  return n;
}
