/**
 * How a shard refuses a write of a frozen or moved tenant (the triggers of src/db/shards/moves.ts),
 * and how long a client is told to wait. Apart from the mover so that the API's error handler
 * (src/app.ts) and the chain recognise a refusal without loading the catalog the mover needs.
 */

/** The message of the triggers' refusal; isFenced() recognises it in a D1 error. */
export const FENCE_MESSAGE = "ferry:tenant_fenced";
export const isFenced = (err: unknown): boolean => String(err instanceof Error ? err.message : err).includes(FENCE_MESSAGE);

/** Retry-After of a write refused during the freeze (or sent to the old shard just after the switch). */
export const FROZEN_RETRY_AFTER_SECONDS = 2;
