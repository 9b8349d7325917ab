import { nowSeconds } from "../db/client";
import type { Env } from "../env";
import { manifestKey } from "../exports/runner";

/** Runs whose files are deleted per cron tick at most, so one tick stays short. */
export const RETENTION_BATCH = 100;

/**
 * Deletes the files (and manifests) of finished runs past their `expires_at` and marks
 * the runs expired. Returns how many runs it expired.
 */
export async function expireRunFiles(env: Env, now = nowSeconds()): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT id, tenant_id, export_id, file_key FROM export_runs
     WHERE expires_at IS NOT NULL AND expires_at <= ?1 AND expired_at IS NULL ORDER BY expires_at LIMIT ?2`,
  )
    .bind(now, RETENTION_BATCH)
    .all<{ id: string; tenant_id: string; export_id: string; file_key: string | null }>();
  if (!results.length) return 0;
  const keys = results.flatMap((r) => [manifestKey(r), ...(r.file_key ? [r.file_key] : [])]);
  // R2 deletes up to 1000 keys per call. https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#bucket-method-definitions
  await env.FILES.delete(keys);
  await env.DB.batch(
    results.map((r) => env.DB.prepare("UPDATE export_runs SET expired_at = ?2 WHERE id = ?1").bind(r.id, now)),
  );
  return results.length;
}
