import { createApp } from "./app";
import type { Env } from "./env";
import { handleBatch } from "./jobs";
import { runCron } from "./cron";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => handleBatch(batch, env, ctx),
  scheduled: (controller, env, ctx) => runCron(controller, env, ctx),
} satisfies ExportedHandler<Env>;
