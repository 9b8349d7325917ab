import type { Env } from "../env";
import { enqueueChunk } from "../ingest/csv/chunks";

/**
 * A CSV ingestion whose checkpoint has not moved for this long has lost its chain message
 * (a chunk that fails is retried within about a minute, then dead-lettered): resend it.
 */
export const STALLED_SECONDS = 10 * 60;

/**
 * Resends the message for the checkpoint of every stalled ingestion. Safe to overlap with a
 * live chain: a message for an offset that is already done does nothing.
 */
export async function resumeStalledIngestions(env: Env, limit = 100): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const { results } = await env.DB.prepare(
    `UPDATE ingestions SET updated_at = ?1
     WHERE id IN (SELECT id FROM ingestions WHERE status IN ('pending', 'processing') AND updated_at < ?2 LIMIT ?3)
     RETURNING id, tenant_id, next_offset`,
  )
    .bind(now, now - STALLED_SECONDS, limit)
    .all<{ id: string; tenant_id: string; next_offset: number }>();
  for (const ing of results) await enqueueChunk(env, ing, ing.next_offset);
  return results.length;
}
