/**
 * Delivery lifecycle: a finished run's file pushed to its export's target (S3, FTP, FTPS, SFTP,
 * Azure, GCS) by the `delivery` chain, shown on the run, and redelivered on request. docs/targets.md.
 *
 * The API worker imports this barrel; the chain job (`./job`, which loads every target driver)
 * is imported from its module by the jobs worker's registry (src/jobs/index.ts).
 */
export { redeliver } from "./redeliver";
export { type DeliveryView, deliveryRecord, deliveryView } from "./view";
