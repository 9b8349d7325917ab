import type { Env } from "../env";
import { processSourceChunk } from "../ingest/sources/chunks";
import type { JobMessage } from "./messages";

/** `source_chunk`: one chunk of a file found in a bucket source (src/ingest/sources/chunks.ts). */
export async function handleSourceChunk(msg: Extract<JobMessage, { type: "source_chunk" }>, env: Env): Promise<void> {
  await processSourceChunk(env, msg);
}
