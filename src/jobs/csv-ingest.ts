import type { Env } from "../env";
import { processCsvChunk } from "../ingest/csv/chunks";
import type { JobMessage } from "./messages";

/** `csv_ingest`: one chunk of a staged CSV upload (src/ingest/csv/chunks.ts). */
export async function handleCsvIngest(msg: Extract<JobMessage, { type: "csv_ingest" }>, env: Env): Promise<void> {
  await processCsvChunk(env, msg);
}
