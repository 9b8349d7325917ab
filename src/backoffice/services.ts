/**
 * The services the back-office pages call: the SAME functions the API routes call, gathered
 * in one place so the pages never hold a copy of their queries or rules. (While the export
 * definitions and runs move to src/definitions and src/runs, this is the one file to point at
 * their new homes.)
 */
import type { Services } from "../services";
import type { ExportBody } from "../exports/definition";
import {
  type Category,
  type ExportRecord,
  type ListQuery,
  CATEGORIES,
  cloneExport as cloneExportEnv,
  createExport as createExportEnv,
  deleteExport as deleteExportEnv,
  getExport as getExportEnv,
  listExports as listExportsEnv,
  setEnabled as setEnabledEnv,
  setFavourite as setFavouriteEnv,
  updateExport as updateExportEnv,
} from "../exports/store";
import { createRun as createRunEnv, listRunRows, type RunRow } from "../services/runs/runs";
import { serializeRun } from "../routes/exports/runs";
import { deliveryView } from "../deliveries";
import { checkTargetConnection } from "../targets/check";
import type { DeliveryTarget } from "../targets/config";
import { listIngestionErrors, listRecentIngestions } from "../db/ingestions";
import { firstErrorsOfFiles, listSourceFiles, listSources as listSourceRows, sourceStats as sourceStatsOf } from "../db/sources";

export { CATEGORIES, type Category, type ExportRecord, type ListQuery, type RunRow };
export { maskTarget } from "../targets/config";
export { previewExport } from "../definitions/preview";
export { createApiKey, listApiKeys, revokeApiKey } from "../tenants/tenants";

export const listExports = (s: Services, tenantId: string, q: ListQuery) => listExportsEnv(s.env, tenantId, q);
export const getExport = (s: Services, tenantId: string, id: string) => getExportEnv(s.env, tenantId, id);
export const createExport = (s: Services, tenantId: string, createdBy: string, def: ExportBody) =>
  createExportEnv(s.env, tenantId, createdBy, def);
export const updateExport = (s: Services, tenantId: string, id: string, def: ExportBody, publish: boolean) =>
  updateExportEnv(s.env, tenantId, id, def, publish);
export const cloneExport = (s: Services, tenantId: string, id: string, createdBy: string) => cloneExportEnv(s.env, tenantId, id, createdBy);
export const deleteExport = (s: Services, tenantId: string, id: string) => deleteExportEnv(s.env, tenantId, id);
export const setEnabled = (s: Services, tenantId: string, id: string, enabled: boolean) => setEnabledEnv(s.env, tenantId, id, enabled);
export const setFavourite = (s: Services, tenantId: string, id: string, favourite: boolean) =>
  setFavouriteEnv(s.env, tenantId, id, favourite);

export const createRun = (s: Services, tenantId: string, exportId: string) =>
  createRunEnv(s.env, { tenantId, exportId, trigger: "manual" });
export const listRuns = (s: Services, tenantId: string, exportId: string, page: { limit: number; offset: number }) =>
  listRunRows(s.env, tenantId, exportId, page);
/** The run as GET /api/1/exports/{id}/runs/{run_id} answers it (status, progress, download_url, ...). */
export const runView = (s: Services, run: RunRow, origin: string) => serializeRun(s.env, origin, run);
export type RunView = Awaited<ReturnType<typeof runView>>;
/** The run's delivery as GET /api/1/exports/{id}/runs/{run_id} shows it (`delivery`); null for download targets. */
export const getDelivery = (s: Services, tenantId: string, runId: string) => deliveryView(s, tenantId, runId);
export type { DeliveryView } from "../deliveries";
/** POST /api/1/exports/{id}/runs/{run_id}/delivery: deliver a failed delivery again. */
export { redeliver } from "../deliveries";

// Ingestion: the loaders behind GET /v1/ingestions/{id} and /api/1/sources (those routes call them directly too).
export const recentIngestions = (s: Services, tenantId: string, limit: number) => listRecentIngestions(s.db, tenantId, limit);
export const ingestionErrors = (s: Services, tenantId: string, ingestionId: string, limit: number) =>
  listIngestionErrors(s.db, tenantId, ingestionId, 0, limit);
export const listSources = (s: Services, tenantId: string) => listSourceRows(s.db, tenantId);
export const sourceStats = (s: Services, tenantId: string, sourceId: string) => sourceStatsOf(s.db, tenantId, sourceId);
export const sourceFiles = (s: Services, tenantId: string, sourceId: string, limit: number) => listSourceFiles(s.db, tenantId, sourceId, { limit });
export const sourceFileErrors = (s: Services, tenantId: string, fileIds: string[], limit: number) => firstErrorsOfFiles(s.db, tenantId, fileIds, limit);
export { sourceView } from "../ingest/sources/sources";

/** The connection test of POST /api/1/targets/test. */
export const testTarget = (s: Services, target: DeliveryTarget) => checkTargetConnection(s.env, target);
