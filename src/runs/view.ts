import { getExportRow } from "../db/exports";
import { getRun, listRuns } from "../db/runs";
import type { RunRow } from "../db/schema";
import { notFound } from "../lib/errors";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";
import { deliveryView } from "../deliveries";
import { downloadUrl } from "./downloads";
import { emailView } from "./email-view";

/**
 * What the API shows of a run (GET /api/1/exports/:id/runs[/:run_id]). Built in this one
 * function so every answer that shows a run shows the same thing; extend it here.
 */
export async function runView(s: Services, run: RunRow, origin: string) {
  return {
    id: run.id,
    export_id: run.export_id,
    status: run.status,
    trigger: run.trigger,
    progress: run.progress,
    rows: run.rows,
    bytes: run.bytes,
    sha256: run.sha256,
    error: run.error,
    file_name: run.file_name,
    created_at: isoSeconds(run.created_at),
    started_at: isoSeconds(run.started_at),
    finished_at: isoSeconds(run.finished_at),
    expires_at: isoSeconds(run.expires_at),
    expired: run.expired_at !== null,
    download_url: await downloadUrl(s, origin, run),
    /** the push target's delivery (src/deliveries/), null for the download target */
    delivery: await deliveryView(s, run.tenant_id, run.id),
    /** the email notification (notification.email): sending, sent, or failed with the relay's reply; null when none */
    email: await emailView(s, run),
  };
}
export type RunView = Awaited<ReturnType<typeof runView>>;

/** One run of one export of the tenant; 404 otherwise (another tenant's, another export's). */
export async function requireRun(s: Services, tenantId: string, exportId: string, runId: string): Promise<RunRow> {
  const run = await getRun(s.db, tenantId, runId);
  if (!run || run.export_id !== exportId) throw notFound("Run");
  return run;
}

/** Runs of one export, newest first; the export must belong to the tenant. */
export async function runsOfExport(
  s: Services,
  tenantId: string,
  exportId: string,
  page: { limit: number; offset: number },
): Promise<{ runs: RunRow[]; total: number }> {
  if (!(await getExportRow(s.db, tenantId, exportId))) throw notFound(`Export '${exportId}'`);
  return listRuns(s.db, tenantId, exportId, page);
}
