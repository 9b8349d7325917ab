import { createApp } from "./app";
import type { Env } from "./env";

/**
 * The API worker (wrangler.toml): the HTTP API and the back office, nothing else. It bundles
 * hono, zod, jose and drizzle, and none of the libraries of the job work (formatters,
 * compressors, OpenPGP, the target drivers): what it needs of those it asks the jobs worker
 * (wrangler.jobs.toml) over the TOOLBOX service binding. Export steps, deliveries and ingestion
 * chains run in the jobs worker, so they never hold up a request here. docs/architecture.md.
 */
export default {
  fetch: createApp().fetch,
  /**
   * Never triggered in production (this worker has no cron trigger; the jobs worker has). Under
   * `npm run dev`, wrangler serves only the first worker, so the dev cron's GET /__scheduled
   * lands here and is handed to the jobs worker.
   */
  scheduled: (_controller, env) => env.TOOLBOX.runCron(),
} satisfies ExportedHandler<Env>;
