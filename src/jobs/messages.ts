import { z } from "zod";

/**
 * Every message on the jobs queue: `{ type, version, ...payload }`. A queue message
 * body is at most 128 KB, so messages carry ids and cursors, never data.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export const JobMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("noop"), version: z.literal(1), note: z.string().optional() }),
  /** One link of a resumable chain (src/chain/): every long job runs as one. */
  z.object({ type: z.literal("chain"), version: z.literal(1), chain_id: z.string().min(1), position: z.number().int().nonnegative() }),
  /** push a finished run's file to its export's target (src/jobs/target-delivery.ts) */
  z.object({ type: z.literal("target_delivery"), version: z.literal(1), tenant_id: z.string(), run_id: z.string() }),
  /** One chunk of a CSV ingestion, starting at byte `offset` of the staged file (src/jobs/csv-ingest.ts). */
  z.object({
    type: z.literal("csv_ingest"),
    version: z.literal(1),
    ingestion_id: z.string().min(1),
    tenant_id: z.string().min(1),
    offset: z.number().int().nonnegative(),
  }),
  /** One chunk of a bucket source's file from checkpoint `position` (src/jobs/source-ingest.ts). */
  z.object({
    type: z.literal("source_chunk"),
    version: z.literal(1),
    file_id: z.string().min(1),
    tenant_id: z.string().min(1),
    position: z.number().int().nonnegative(),
  }),
]);
export type JobMessage = z.infer<typeof JobMessage>;
