import type { ChainJob } from "../chain";
import { runDelivery } from "../services/targets/deliveries";

/**
 * TEMPORARY, until the deliveries branch lands its `delivery` chain job (src/deliveries/):
 * a finished run now starts a `delivery` chain (src/runs/job.ts) instead of sending the old
 * `target_delivery` message, and this adapter runs that chain with the existing delivery
 * code so pushes keep working meanwhile. Delete this file and its line in src/jobs/index.ts
 * when the real job is registered.
 */
export const deliveryBridge: ChainJob = {
  async step({ services: s, chain }) {
    await runDelivery(s.env, chain.tenant_id, chain.subject_id); // throws on transient failures: the chain retries
    return { done: true };
  },
  async giveUp(_s, chain, reason) {
    console.error(JSON.stringify({ delivery: chain.subject_id, gave_up: reason }));
  },
};
