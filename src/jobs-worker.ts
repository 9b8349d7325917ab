import { WorkerEntrypoint } from "cloudflare:workers";
import { runCron } from "./cron";
import type { Env } from "./env";
import { handleBatch } from "./jobs";
import { localToolbox } from "./jobs/toolbox";
import { createServices } from "./services";
import { type ToolboxRpc, toToolResult } from "./services/toolbox";
import type { DeliveryTarget } from "./targets/config";

/**
 * The jobs worker (wrangler.jobs.toml): the queue consumer (every chain link: export runs,
 * deliveries, CSV and bucket ingestion, webhooks, segments), the cron, and the toolbox the API
 * worker calls over RPC (src/services/toolbox.ts). It has no public route.
 */
export class Toolbox extends WorkerEntrypoint<Env> implements ToolboxRpc {
  private services() {
    return createServices(this.env, { toolbox: localToolbox });
  }
  checkTarget(target: DeliveryTarget) {
    const s = this.services();
    return toToolResult(() => s.toolbox.checkTarget(target));
  }
  checkPublicKey(armored: string) {
    const s = this.services();
    return toToolResult(() => s.toolbox.checkPublicKey(armored));
  }
  unlockPrivateKey(armored: string, passphrase: string | undefined) {
    const s = this.services();
    return toToolResult(() => s.toolbox.unlockPrivateKey(armored, passphrase));
  }
  abortDelivery(tenantId: string, runId: string) {
    const s = this.services();
    return toToolResult(() => s.toolbox.abortDelivery(tenantId, runId));
  }
  /** The cron's work on demand: how `npm run dev`'s minute tick reaches this worker (src/api.ts). */
  runCron() {
    return runCron(undefined, this.env, this.ctx);
  }
}

export default {
  async fetch() {
    return new Response("ferry jobs worker: no public routes (queue, cron and the API worker's toolbox)\n", { status: 404 });
  },
  queue: (batch, env, ctx) => handleBatch(batch, env, ctx),
  scheduled: (_controller, env, ctx) => runCron(undefined, env, ctx),
} satisfies ExportedHandler<Env>;
