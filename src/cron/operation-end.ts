import { operationEndExportsUnscoped, triggeredCampaigns } from "../db/campaign-triggers";
import { endedCampaigns, shardForTenant } from "../db/shards";
import { parseStoredDefinition } from "../exports/definition";
import { createRun } from "../runs";
import type { Services } from "../services";

/**
 * The "at the end of the operation" trigger (schedule `operation_end`). Each cron tick, for
 * every active definition with that schedule, reads the tenant's `campaigns` (on its shard) for
 * campaigns whose `campaign_end` has passed since the definition was created and that have not
 * started a run of it yet, and starts one run per campaign through createRun, which records the
 * (definition, campaign) pair in campaign_triggers in the run's own batch: a tick that fires
 * twice, or two that overlap, make one run per campaign.
 *
 * A campaign whose end is moved after it triggered does not trigger again; one whose end is
 * moved into the past triggers at the next tick. Campaigns that ended before the definition
 * existed never trigger it (run those with POST /api/1/exports/:id/runs).
 */

/** Definitions read per page of the scan. */
const PAGE = 100;
/** Runs started per tick at most; the rest wait for the next tick (one minute). */
export const OPERATION_END_RUNS_PER_TICK = 50;

/** Epoch seconds as the catalog stores timestamps: `YYYY-MM-DD HH:MM:SS` (UTC). */
const stored = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");

/** Starts the runs of every campaign end that passed; returns how many runs it started. */
export async function startCampaignEndRuns(s: Services): Promise<number> {
  const until = stored(s.clock.seconds());
  let started = 0;
  let after = "";
  for (;;) {
    const page = await operationEndExportsUnscoped(s.db, after, PAGE);
    for (const e of page) {
      if (started >= OPERATION_END_RUNS_PER_TICK) return started;
      try {
        // A definition that no longer reads is skipped here; GET /api/1/exports/:id shows why.
        parseStoredDefinition(e.definition, e.name);
        const done = await triggeredCampaigns(s.db, e.tenant_id, e.id);
        const td = await shardForTenant(s, e.tenant_id);
        const ended = await endedCampaigns(td, stored(e.created_at), until, done, OPERATION_END_RUNS_PER_TICK - started);
        for (const c of ended) {
          await createRun(s, { tenantId: e.tenant_id, exportId: e.id, trigger: "operation_end", campaign: { code: c.campaign_code, end: c.campaign_end } });
          started++;
        }
      } catch (err) {
        console.error(JSON.stringify({ cron: "operation end", export: e.id, error: err instanceof Error ? err.message : String(err) }));
      }
    }
    if (page.length < PAGE) return started;
    after = (page[page.length - 1] as { id: string }).id;
  }
}
