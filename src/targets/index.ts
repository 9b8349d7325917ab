import type { Env } from "../env";
import { azureDriver } from "./azure";
import type { DeliveryTarget } from "./config";
import { ftpDriver } from "./ftp";
import { gcsDriver } from "./gcs";
import { s3Driver } from "./s3";
import { sftpDriver } from "./sftp";
import type { DeliveryOptions, TargetDriver, UploadState } from "./types";

export { DeliveryTarget } from "./config";
export { TargetError, UploadRestart } from "./types";
export type { DeliveryContext, DeliveryFile, DeliveryOptions, TargetDriver, UploadState } from "./types";

/** One driver per target type, all behind TargetDriver (a resumable upload: begin, parts, complete, abort). */
export function driverFor(target: DeliveryTarget): TargetDriver<DeliveryTarget, UploadState> {
  const drivers = { s3: s3Driver, ftp: ftpDriver, ftps: ftpDriver, sftp: sftpDriver, azure: azureDriver, gcs: gcsDriver } as const;
  return drivers[target.type] as unknown as TargetDriver<DeliveryTarget, UploadState>;
}

/** "Test connection": connects and authenticates with a plain (unsealed) target. */
export function testTarget(env: Env, target: DeliveryTarget, opts?: DeliveryOptions): Promise<void> {
  return driverFor(target).test(env, target, opts);
}
