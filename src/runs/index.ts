/**
 * The export-run lifecycle, end to end: create (run row + its chain in one batch), the
 * `export_run` chain job (steps, checkpoints, finalize, fail, give-up), the delivery hand-off
 * and the notifications (webhook, email), retention, and what the API shows of a run.
 *
 * This barrel is what the API worker may import: the chain jobs (`./job`, `./webhook`, `./email`) pull in
 * the formatters, compressors, OpenPGP and the SMTP client and are imported from their own modules by the jobs
 * worker's registry (src/jobs/index.ts). test/node/worker-split.test.ts keeps it that way.
 */
export { createRun, type CreateRunInput, prepareRun, runOptionsFromEnv } from "./create";
export { contentDisposition, DEFAULT_URL_TTL_SECONDS, downloadUrl, openDownload, parseRange, signDownload, verifyDownload } from "./downloads";
export { automatedExports, automatedResults, fetchResult } from "./results";
export { expireRunFiles, RETENTION_BATCH } from "./retention";
export { requireRun, runsOfExport, runView, type RunView } from "./view";
export { emailView, publicOrigin } from "./email-view";
