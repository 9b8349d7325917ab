import type { Env } from "../env";
import { defaultEngine } from "../exports/engine";
import { type ExportChunkMessage, failRun, runExportChunk } from "../exports/runner";
import { JobMessage } from "./messages";

export const handleExportChunk = (msg: ExportChunkMessage, env: Env) => runExportChunk(env, msg, defaultEngine);

/** Name of the dead-letter queue in wrangler.toml. */
export const DEAD_LETTER_QUEUE = "ferry-jobs-dlq";

/**
 * Consumer of the dead-letter queue: a message lands here after `max_retries` failed
 * deliveries (https://developers.cloudflare.com/queues/configuration/dead-letter-queues/).
 * An export run it belonged to is marked failed, keeping the last error seen.
 */
export async function handleDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    try {
      if (parsed.success && parsed.data.type === "export_chunk") {
        const run = await env.DB.prepare("SELECT error FROM export_runs WHERE id = ?1")
          .bind(parsed.data.run_id)
          .first<{ error: string | null }>();
        const last = run?.error ? ` Last error: ${run.error.replace(/^retrying after: /, "")}` : "";
        await failRun(env, parsed.data.run_id, `The export job kept failing and was given up after its retries.${last}`);
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
