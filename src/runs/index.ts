/**
 * The export-run lifecycle, end to end: create (run row + its chain in one batch), the
 * `export_run` chain job (steps, checkpoints, finalize, fail, give-up), the delivery hand-off
 * and the notifications (webhook, email), retention, and what the API shows of a run.
 */
export { createRun, type CreateRunInput, prepareRun, runOptionsFromEnv } from "./create";
export { contentDisposition, DEFAULT_URL_TTL_SECONDS, downloadUrl, openDownload, parseRange, signDownload, verifyDownload } from "./downloads";
export { ExportFailure, exportRunJob, failRun, manifestKey } from "./job";
export { automatedExports, automatedResults, fetchResult } from "./results";
export { expireRunFiles, RETENTION_BATCH } from "./retention";
export { requireRun, runsOfExport, runView, type RunView } from "./view";
export { type RunEvent, runEvent, webhookJob } from "./webhook";
export { emailJob, emailView, publicOrigin } from "./email";
