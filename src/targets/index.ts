import type { Env } from "../env";
import { azureDriver } from "./azure";
import type { DeliveryTarget } from "./config";
import { ftpDriver } from "./ftp";
import { s3Driver } from "./s3";
import { sftpDriver } from "./sftp";
import type { DeliveryContext, DeliveryFile, DeliveryOptions, TargetDriver } from "./types";

export { DeliveryTarget, MASK, maskTarget, sealTarget, unsealTarget } from "./config";
export { TargetError } from "./types";
export type { DeliveryContext, DeliveryFile, DeliveryOptions, TargetDriver } from "./types";

/** One driver per target type, all behind TargetDriver. */
export function driverFor(target: DeliveryTarget): TargetDriver<DeliveryTarget> {
  const drivers = { s3: s3Driver, ftp: ftpDriver, ftps: ftpDriver, sftp: sftpDriver, azure: azureDriver } as const;
  return drivers[target.type] as TargetDriver<DeliveryTarget>;
}

/** "Test connection": connects and authenticates with a plain (unsealed) target. */
export function testTarget(env: Env, target: DeliveryTarget, opts?: DeliveryOptions): Promise<void> {
  return driverFor(target).test(env, target, opts);
}

/** Uploads a finished file with a plain (unsealed) target. */
export function deliverFile(env: Env, target: DeliveryTarget, file: DeliveryFile, ctx: DeliveryContext, opts?: DeliveryOptions) {
  return driverFor(target).deliver(env, target, file, ctx, opts);
}
