import { type ChainJobs, backoffSeconds, handleChainMessage, handleDeadChainMessage } from "../chain";
import { deliveryJob } from "../deliveries/job";
import type { Env } from "../env";
import { exportRunJob } from "../runs/job";
import { webhookJob } from "../runs/webhook";
import { emailJob } from "../runs/email";
import { csvIngestJob } from "../ingest/csv/chunks";
import { sourceFileJob } from "../ingest/sources/chunks";
import { segmentJob } from "../segments/job";
import { userDeletionJob } from "../ingest/deletion";
import { tenantMoveJob } from "../tenants/moves";
import { createServices, type Services } from "../services";
import { DEAD_LETTER_QUEUE, handleDeadLetters } from "./dead-letters";
import { JobMessage } from "./messages";

/** The job of every chain kind: each module that owns a lifecycle provides its ChainJob. */
export const chainJobs: ChainJobs = {
  export_run: exportRunJob(),
  webhook: webhookJob,
  email: emailJob,
  csv_ingest: csvIngestJob,
  source_file: sourceFileJob,
  delivery: deliveryJob(),
  segment: segmentJob,
  user_deletion: userDeletionJob(),
  tenant_move: tenantMoveJob,
};

/** Handlers per message type. Each must be idempotent: delivery is at-least-once and unordered. */
const handlers: { [K in JobMessage["type"]]: (msg: Extract<JobMessage, { type: K }>, env: Env, s: Services) => Promise<void> } = {
  noop: async () => {},
  chain: (msg, _env, s) => handleChainMessage(s, chainJobs, msg),
};

export async function handleBatch(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext, s = createServices(env)): Promise<void> {
  if (batch.queue === DEAD_LETTER_QUEUE) {
    for (const message of batch.messages) {
      const parsed = JobMessage.safeParse(message.body);
      if (parsed.success && parsed.data.type === "chain") {
        await handleDeadChainMessage(s, chainJobs, parsed.data).then(
          () => message.ack(),
          () => message.retry({ delaySeconds: 30 }),
        );
      }
    }
    return handleDeadLetters(batch, env);
  }
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      // A malformed message never becomes valid: retrying sends it to the dead-letter queue.
      console.error(JSON.stringify({ job: "invalid", id: message.id, issues: parsed.error.issues }));
      message.retry({ delaySeconds: 0 });
      continue;
    }
    try {
      const msg = parsed.data;
      await (handlers[msg.type] as (m: JobMessage, e: Env, s: Services) => Promise<void>)(msg, env, s);
      message.ack();
    } catch (err) {
      console.error(JSON.stringify({ job: parsed.data.type, id: message.id, attempt: message.attempts, error: String(err) }));
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}
