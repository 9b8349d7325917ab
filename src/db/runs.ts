import { and, eq } from "drizzle-orm";
import type { ControlDb } from "./client";
import { type RunRow, export_runs } from "./schema";

/**
 * Export runs, their checkpoints and parts (tables export_runs, export_run_checkpoints,
 * export_run_parts). The run lifecycle (src/runs/) is the only writer.
 */

/** The one loader of a run row, scoped by tenant: another tenant's run is not found. */
export function getRun(db: ControlDb, tenantId: string, runId: string): Promise<RunRow | undefined> {
  return db
    .select()
    .from(export_runs)
    .where(and(eq(export_runs.tenant_id, tenantId), eq(export_runs.id, runId)))
    .get();
}
