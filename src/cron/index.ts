import type { Env } from "../env";
import { startCampaignEndRuns } from "./operation-end";
import { enqueueDueRuns } from "./schedules";
import { discoverSources } from "../ingest/sources/discover";
import { sweepStalledChains } from "../chain";
import { expireRunFiles } from "../runs";
import { recomputeStaleSegments } from "../segments/service";
import { createServices, type Services } from "../services";
import { pruneFailedClientAuth } from "../tenants/lockout";
import { alertFullShards } from "../tenants/shards";
import { revertExpiredFreezes } from "../tenants/moves";

/** The cron trigger only finds due work and enqueues it; jobs do the work. */
export async function runCron(_controller: ScheduledController | undefined, env: Env, _ctx: ExecutionContext, s: Services = createServices(env)): Promise<void> {
  // Each task is independent: one failing must not stop the others.
  const tasks: [string, () => Promise<unknown>][] = [
    ["schedules", () => enqueueDueRuns(s)],
    ["operation end", () => startCampaignEndRuns(s)],
    ["stalled chains", () => sweepStalledChains(s)],
    ["retention", () => expireRunFiles(s)],
    ["sources", () => discoverSources(s)],
    ["segments", () => recomputeStaleSegments(s)],
    ["auth failures", () => pruneFailedClientAuth(s)],
    ["shard capacity", () => alertFullShards(s)],
    ["tenant move freezes", () => revertExpiredFreezes(s)],
  ];
  const results = await Promise.allSettled(tasks.map(([, run]) => run()));
  results.forEach((r, i) => {
    if (r.status === "rejected") console.error(JSON.stringify({ cron: tasks[i]![0], error: String(r.reason) }));
  });
}
