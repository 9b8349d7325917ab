import type { Env } from "../env";
import { processCsvChunk } from "../services/ingest-csv/chunks";
import type { JobMessage } from "./messages";

/** `csv_ingest`: one chunk of a staged CSV upload (src/services/ingest-csv/chunks.ts). */
export async function handleCsvIngest(msg: Extract<JobMessage, { type: "csv_ingest" }>, env: Env): Promise<void> {
  await processCsvChunk(env, msg);
}
