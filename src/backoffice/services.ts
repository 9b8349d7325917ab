/**
 * The services the back-office pages call: the SAME functions the API routes call, gathered
 * in one place so the pages never hold a copy of their queries or rules.
 */
import type { RunRow } from "../db/schema";
import { listIngestionErrors, listRecentIngestions } from "../db/ingestions";
import { firstErrorsOfFiles, listSourceFiles, listSources as listSourceRows, sourceStats as sourceStatsOf } from "../db/sources";
import { createRun as createRunOf, runsOfExport } from "../runs";
import type { Services } from "../services";
import type { DeliveryTarget } from "../targets/config";

// Export definitions (routes/exports): list, read, create, update, clone, delete, favourite, enable/disable.
export {
  CATEGORIES,
  type Category,
  cloneExport,
  createExport,
  deleteExport,
  type ExportRecord,
  getExport,
  type ListQuery,
  listExports,
  setEnabled,
  setFavourite,
  updateExport,
} from "../definitions";
export { previewExport } from "../definitions/preview";
// Secret fields (target credentials, the notification secret) as every answer shows them: "****".
export { maskSecrets } from "../lib/secrets";

// Runs (routes/exports/runs): start one, list them, and the one view of a run the API answers
// (status, progress, download_url, delivery).
export { runView, type RunView } from "../runs";
export type { RunRow };
export const createRun = (s: Services, tenantId: string, exportId: string) => createRunOf(s, { tenantId, exportId, trigger: "manual" });
export const listRuns = (s: Services, tenantId: string, exportId: string, page: { limit: number; offset: number }) =>
  runsOfExport(s, tenantId, exportId, page);

// Deliveries: POST /api/1/exports/{id}/runs/{run_id}/delivery delivers a failed one again.
export { type DeliveryView, redeliver } from "../deliveries";

/** The connection test of POST /api/1/targets/test. */
export const testTarget = (s: Services, target: DeliveryTarget) => s.toolbox.checkTarget(target);

// API keys (routes/admin): create (shown once), list, revoke.
export { createApiKey, listApiKeys, revokeApiKey } from "../tenants/tenants";

// Ingestion: the loaders behind GET /v1/ingestions/{id} and /api/1/sources (those routes call them directly too).
export const recentIngestions = (s: Services, tenantId: string, limit: number) => listRecentIngestions(s.db, tenantId, limit);
export const ingestionErrors = (s: Services, tenantId: string, ingestionId: string, limit: number) =>
  listIngestionErrors(s.db, tenantId, ingestionId, 0, limit);
export const listSources = (s: Services, tenantId: string) => listSourceRows(s.db, tenantId);
export const sourceStats = (s: Services, tenantId: string, sourceId: string) => sourceStatsOf(s.db, tenantId, sourceId);
export const sourceFiles = (s: Services, tenantId: string, sourceId: string, limit: number) => listSourceFiles(s.db, tenantId, sourceId, { limit });
export const sourceFileErrors = (s: Services, tenantId: string, fileIds: string[], limit: number) => firstErrorsOfFiles(s.db, tenantId, fileIds, limit);
export { sourceView } from "../ingest/sources/sources";
