import { type DueExport, dueExportsUnscoped, markScheduleFailed, moveNextRun } from "../db/exports";
import { previousWatermark } from "../db/runs";
import { parseStoredDefinition, UnreadableDefinition } from "../exports/definition";
import { nextRunAt } from "../exports/schedule";
import { ApiError } from "../lib/errors";
import { createRun } from "../runs";
import type { Services } from "../services";

/**
 * Scheduled exports. `exports.next_run_at` holds the next due time of every active definition
 * (written with the definition, src/definitions/). Each cron tick, for every due definition:
 *   1. creates the run for its slot — createRun is idempotent per (export, scheduled_for), so a
 *      tick that fires twice, overlaps a slow tick, or crashes half-way makes one run;
 *   2. moves next_run_at forward with a compare-and-set on the old value, so two ticks never
 *      skip or double a slot.
 * Slots missed while a definition was disabled are not caught up: enabling schedules from now.
 *
 * One definition cannot hold up the others: each is handled on its own. One whose stored JSON
 * no longer reads as a definition, or whose run is refused (ApiError), is marked failed: its
 * next_run_at is cleared and `schedule_error` says why (shown by GET /api/1/exports/:id); saving
 * or enabling it again schedules it again. Any other error (D1 unavailable) leaves it due, and
 * the next tick tries again.
 */

/** How many due definitions one tick handles; the rest are picked up by the next tick. */
const DUE_BATCH = 50;

/**
 * Incremental mode: rows ingested after the previous successful run's upper bound, up to this
 * slot minus a settle window. Bounds are on `ingested_at` (epoch seconds, stamped by the
 * ingestion API), so consecutive runs tile time with no gap and no overlap. The settle window
 * keeps a batch that was stamped just before the bound but committed just after it from being
 * missed; the next run picks it up.
 */
export const WATERMARK_SETTLE_SECONDS = 60;

async function scheduleOne(s: Services, e: DueExport, now: number): Promise<void> {
  const def = parseStoredDefinition(e.definition, e.name);
  let watermark: { after?: number; until: number } | undefined;
  if (def.incremental) {
    const after = await previousWatermark(s.db, e.tenant_id, e.id, e.next_run_at);
    watermark = { ...(after !== undefined ? { after } : {}), until: e.next_run_at - WATERMARK_SETTLE_SECONDS };
  }
  await createRun(s, { tenantId: e.tenant_id, exportId: e.id, trigger: "schedule", scheduledFor: e.next_run_at, ...(watermark ? { watermark } : {}) });
  // The next slot after both the one just handled and now (slots missed during an outage are
  // not replayed one by one: the run just created covers them, incremental runs included).
  await moveNextRun(s.db, e.tenant_id, e.id, e.next_run_at, nextRunAt(def.schedule, Math.max(now, e.next_run_at)));
}

/** Creates the runs of every due schedule; returns how many definitions were handled. */
export async function enqueueDueRuns(s: Services): Promise<number> {
  const now = s.clock.seconds();
  const due = await dueExportsUnscoped(s.db, now, DUE_BATCH);
  for (const e of due) {
    try {
      await scheduleOne(s, e, now);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      console.error(JSON.stringify({ cron: "schedules", export: e.id, slot: e.next_run_at, error: reason }));
      if (err instanceof UnreadableDefinition || err instanceof ApiError) {
        await markScheduleFailed(s.db, e.tenant_id, e.id, e.next_run_at, `slot ${e.next_run_at}: ${reason}`).catch(() => {});
      }
    }
  }
  return due.length;
}
