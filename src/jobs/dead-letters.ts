import type { Env } from "../env";
import { JobMessage } from "./messages";

/** Name of the dead-letter queue in wrangler.toml. */
export const DEAD_LETTER_QUEUE = "ferry-jobs-dlq";

/**
 * Consumer of the dead-letter queue: a message lands here after `max_retries` failed
 * deliveries (https://developers.cloudflare.com/queues/configuration/dead-letter-queues/).
 * Chain messages are given up in src/jobs/index.ts (handleDeadChainMessage): the job marks its
 * subject (an export run, ...) failed with the last error seen.
 */
export async function handleDeadLetters(batch: MessageBatch<unknown>, _env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    // acked (or retried) by handleDeadChainMessage in src/jobs/index.ts
    if (parsed.success && parsed.data.type === "chain") continue;
    // Nothing else is sent on the queue today; a message of an unknown shape is logged and dropped.
    console.error(JSON.stringify({ dead_letter: message.id, body: parsed.success ? parsed.data.type : "invalid" }));
    message.ack();
  }
}
