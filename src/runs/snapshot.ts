import type { RunRow } from "../db/schema";
import type { ExportBody } from "../exports/definition";

/**
 * A run's definition snapshot: the JSON of a definition that was validated when it was saved,
 * read as it is (the compiler checks it against today's catalog when the run compiles it).
 */
export function readSnapshot(run: Pick<RunRow, "definition">): ExportBody {
  return JSON.parse(run.definition) as ExportBody;
}
