/**
 * Delivery lifecycle: a finished run's file pushed to its export's target (S3, FTP, FTPS, SFTP,
 * Azure, GCS) by the `delivery` chain, shown on the run, and redelivered on request. docs/targets.md.
 */
export { deliveryJob, MAX_RESTARTS } from "./job";
export { redeliver } from "./redeliver";
export { type DeliveryView, deliveryRecord, deliveryView } from "./view";
