import type { Env } from "../env";
import { ExportBody } from "../exports/definition";
import { createRun } from "../services/runs/runs";
import { nextRunAt } from "./schedule";

/**
 * Scheduled exports. `exports.next_run_at` holds the next due time of every active definition.
 * Each cron tick:
 *   1. creates the run for every due slot — createRun is idempotent per (export, scheduled_for),
 *      so a tick that fires twice, overlaps a slow tick, or crashes half-way makes one run;
 *   2. moves next_run_at forward with a compare-and-set on the old value, so two ticks never
 *      skip or double a slot.
 * Slots missed while a definition was disabled are not caught up: enabling schedules from now.
 */

/** How many due definitions one tick handles; the rest are picked up by the next tick. */
const DUE_BATCH = 50;

/** Recomputes next_run_at from `now` (call on create, update, enable; disable clears it). */
export async function refreshNextRun(env: Pick<Env, "DB">, tenantId: string, exportId: string, now = nowS()): Promise<number | null> {
  const row = await env.DB.prepare(`SELECT definition, status FROM exports WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL`)
    .bind(tenantId, exportId)
    .first<{ definition: string; status: string }>();
  if (!row) return null;
  const def = ExportBody.parse(JSON.parse(row.definition));
  const next = row.status === "active" ? nextRunAt(def.schedule, now) : null;
  await env.DB.prepare(`UPDATE exports SET next_run_at = ?1 WHERE tenant_id = ?2 AND id = ?3`).bind(next, tenantId, exportId).run();
  return next;
}

const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Incremental mode: rows ingested after the previous successful run's upper bound, up to this
 * slot minus a settle window. Bounds are on `ingested_at` (epoch seconds, stamped by the
 * ingestion API), so consecutive runs tile time with no gap and no overlap. The settle window
 * keeps a batch that was stamped just before the bound but committed just after it from being
 * missed; the next run picks it up.
 */
export const WATERMARK_SETTLE_SECONDS = 60;

async function incrementalWatermark(env: Pick<Env, "DB">, exportId: string, slot: number): Promise<{ after?: number; until: number }> {
  const prev = await env.DB.prepare(
    `SELECT watermark_until FROM export_runs
      WHERE export_id = ?1 AND status = 'finished' AND watermark_until IS NOT NULL AND (scheduled_for IS NULL OR scheduled_for < ?2)
      ORDER BY watermark_until DESC LIMIT 1`,
  )
    .bind(exportId, slot)
    .first<{ watermark_until: number }>();
  return { ...(prev ? { after: prev.watermark_until } : {}), until: slot - WATERMARK_SETTLE_SECONDS };
}

/** Creates the runs of every due schedule; returns how many slots were handled. */
export async function enqueueDueRuns(env: Env, now = nowS()): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT id, tenant_id, definition, next_run_at FROM exports
      WHERE next_run_at IS NOT NULL AND next_run_at <= ?1 AND status = 'active' AND deleted_at IS NULL
      ORDER BY next_run_at LIMIT ${DUE_BATCH}`,
  )
    .bind(now)
    .all<{ id: string; tenant_id: string; definition: string; next_run_at: number }>();

  for (const e of results) {
    const def = ExportBody.parse(JSON.parse(e.definition));
    await createRun(env, {
      tenantId: e.tenant_id,
      exportId: e.id,
      trigger: "schedule",
      scheduledFor: e.next_run_at,
      ...(def.incremental ? { watermark: await incrementalWatermark(env, e.id, e.next_run_at) } : {}),
    });
    // The next slot after both the one just handled and now (slots missed during an outage are
    // not replayed one by one: the run just created covers them, incremental runs included).
    const next = nextRunAt(def.schedule, Math.max(now, e.next_run_at));
    await env.DB.prepare(`UPDATE exports SET next_run_at = ?1 WHERE id = ?2 AND next_run_at = ?3`).bind(next, e.id, e.next_run_at).run();
  }
  return results.length;
}
