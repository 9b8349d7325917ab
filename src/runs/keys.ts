import type { RunRow } from "../db/schema";

/** Where a run's manifest lives in R2 (written by the last link, deleted by retention). */
export const manifestKey = (run: Pick<RunRow, "tenant_id" | "export_id" | "id">) => `exports/${run.tenant_id}/${run.export_id}/${run.id}/manifest.json`;
