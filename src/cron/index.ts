import type { Env } from "../env";
import { resumeStalledIngestions } from "./ingestions";
import { expireRunFiles } from "./retention";

/** The cron trigger only finds due work and enqueues it; jobs do the work. */
export async function runCron(_controller: ScheduledController, _env: Env, _ctx: ExecutionContext): Promise<void> {
  // Due schedules, retention clean-up and bucket discovery register here as they are built.
  await expireRunFiles(_env);
  await resumeStalledIngestions(_env);
}
