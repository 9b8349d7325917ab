import * as z from "zod";

/**
 * Every message on the jobs queue: `{ type, version, ...payload }`. A queue message
 * body is at most 128 KB, so messages carry ids and cursors, never data.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export const JobMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("noop"), version: z.literal(1), note: z.string().optional() }),
  /** One link of a resumable chain (src/chain/): every long job runs as one. */
  z.object({ type: z.literal("chain"), version: z.literal(1), chain_id: z.string().min(1), position: z.number().int().nonnegative() }),
]);
export type JobMessage = z.infer<typeof JobMessage>;
