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
  /** The signed webhook of a finished or failed run (src/exports/notify.ts). */
  z.object({
    type: z.literal("export_webhook"),
    version: z.literal(1),
    tenant_id: z.string().min(1),
    run_id: z.string().min(1),
    event: z.enum(["export.run.finished", "export.run.failed"]),
  }),
  /** One link of an export run's chain: produce checkpoints from `step` on (src/exports/runner.ts). */
  z.object({ type: z.literal("export_chunk"), version: z.literal(1), run_id: z.string().min(1), step: z.number().int().min(1) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;
