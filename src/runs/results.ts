import { activeExportsWithLastResult, automatedExportId, getRunFile, type ResultRow, resultsOf } from "../db/runs";
import { ApiError } from "../lib/errors";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";
import { downloadUrl } from "./downloads";

/**
 * Results for the automated exports API (reference: automated-exports-api.txt): a "result" is
 * a finished run whose file is still kept. Dates are ISO 8601 with a `+00:00` offset.
 */

const toResult = (r: ResultRow) => ({ id: r.id, expires_at: isoSeconds(r.expires_at), created_at: isoSeconds(r.created_at) as string });

/** Active exports with their newest result. */
export async function automatedExports(s: Services, tenantId: string) {
  const rows = await activeExportsWithLastResult(s.db, tenantId, s.clock.seconds());
  return rows.map((e) => ({ id: e.id, system_name: e.name, last_run: e.last ? toResult(e.last) : null }));
}

/** Results of the export named `name`, newest first. */
export async function automatedResults(s: Services, tenantId: string, name: string, page: { page: number; perPage: number }) {
  const exportId = await automatedExportId(s.db, tenantId, name);
  if (!exportId) throw new ApiError("not_found", `No automated export named ${name}`);
  const { results, total } = await resultsOf(s.db, tenantId, exportId, s.clock.seconds(), { limit: page.perPage, offset: (page.page - 1) * page.perPage });
  return { results: results.map(toResult), total };
}

/** A signed download URL for one result; 410 once its file expired or was deleted. */
export async function fetchResult(s: Services, tenantId: string, resultId: string, origin: string) {
  const run = await getRunFile(s.db, tenantId, resultId);
  if (!run || run.status !== "finished" || !run.automated) throw new ApiError("not_found", `No result ${resultId}`);
  if (!run.file_key || run.expired_at != null || (run.expires_at != null && run.expires_at <= s.clock.seconds())) {
    throw new ApiError(
      "gone",
      `Result ${resultId} expired${run.expires_at ? ` at ${isoSeconds(run.expires_at)}` : ""} and its file was deleted; fetch a newer result from /results`,
    );
  }
  const url = await downloadUrl(s, origin, run);
  if (!url) throw new ApiError("not_found", `No result ${resultId}`);
  return { id: run.id, download_url: url };
}
