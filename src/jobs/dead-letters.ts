import type { Env } from "../env";
import { giveUpCsvChunk } from "../services/ingest-csv/chunks";
import { giveUpSourceChunk } from "../services/sources/chunks";
import { JobMessage } from "./messages";

/** Name of the dead-letter queue in wrangler.toml. */
export const DEAD_LETTER_QUEUE = "ferry-jobs-dlq";

/**
 * Consumer of the dead-letter queue: a message lands here after `max_retries` failed
 * deliveries (https://developers.cloudflare.com/queues/configuration/dead-letter-queues/).
 * Chain messages are given up in src/jobs/index.ts (handleDeadChainMessage): the job marks its
 * subject (an export run, ...) failed with the last error seen.
 */
export async function handleDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    // acked (or retried) by handleDeadChainMessage in src/jobs/index.ts
    if (parsed.success && parsed.data.type === "chain") continue;
    try {
      if (parsed.success && parsed.data.type === "csv_ingest") {
        await giveUpCsvChunk(env, parsed.data);
      } else if (parsed.success && parsed.data.type === "source_chunk") {
        await giveUpSourceChunk(env, parsed.data);
      } else {
        console.error(JSON.stringify({ dead_letter: message.id, body: parsed.success ? parsed.data.type : "invalid" }));
      }
      message.ack();
    } catch (err) {
      console.error(JSON.stringify({ dead_letter: message.id, error: String(err) }));
      message.retry({ delaySeconds: 30 });
    }
  }
}
