import { createApp } from "./app";
import { runCron } from "./cron";
import type { Env } from "./env";
import { handleBatch } from "./jobs";
import { localToolbox } from "./jobs/toolbox";

/**
 * Both workers in one: the API (src/api.ts) and the jobs worker (src/jobs-worker.ts) with the
 * toolbox in-process. The Workers test pool runs this entry (vitest.config.ts), so one `npm test`
 * covers the code of both; `npm run dev` and a deploy run the two workers separately.
 */
const app = createApp({ toolbox: localToolbox });

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => handleBatch(batch, env, ctx),
  scheduled: (_controller, env, ctx) => runCron(undefined, env, ctx),
} satisfies ExportedHandler<Env>;
