import type { Env } from "../env";
import { runDelivery } from "../services/targets/deliveries";
import type { JobMessage } from "./messages";

/** `target_delivery`: pushes a finished run's file to its target; throws (queue retry) only on transient failures. */
export async function handleTargetDelivery(msg: Extract<JobMessage, { type: "target_delivery" }>, env: Env): Promise<void> {
  const d = await runDelivery(env, msg.tenant_id, msg.run_id);
  if (d) console.log(JSON.stringify({ job: "target_delivery", run_id: msg.run_id, status: d.status, attempts: d.attempts, error: d.error }));
}
