import { expiredRunsUnscoped, markExpired } from "../db/runs";
import type { Services } from "../services";
import { manifestKey } from "./keys";

/** Runs whose files are deleted per cron tick at most, so one tick stays short. */
export const RETENTION_BATCH = 100;

/**
 * Deletes the files (and manifests) of finished runs past their `expires_at` and marks the
 * runs expired. Returns how many runs it expired.
 */
export async function expireRunFiles(s: Services): Promise<number> {
  const now = s.clock.seconds();
  const due = await expiredRunsUnscoped(s.db, now, RETENTION_BATCH);
  if (!due.length) return 0;
  const keys = due.flatMap((r) => [manifestKey(r), ...(r.file_key ? [r.file_key] : [])]);
  // R2 deletes up to 1000 keys per call. https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#bucket-method-definitions
  await s.files.delete(keys);
  await markExpired(s.db, due.map((r) => r.id), now);
  return due.length;
}
