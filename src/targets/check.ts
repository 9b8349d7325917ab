import type { Env } from "../env";
import { ApiError } from "../lib/errors";
import { MASK, maskedPaths } from "../lib/secrets";
import { testTarget } from ".";
import { DeliveryTarget } from "./config";
import { TargetError } from "./types";

/**
 * "Test connection": connect and authenticate to a target as a delivery would, with the real
 * secrets. POST /api/1/targets/test and the back office's wizard both call this. A refusal is an
 * ApiError a person can act on: 400 for masked secrets, 422 with the reason otherwise.
 */
export async function checkTargetConnection(env: Env, target: DeliveryTarget): Promise<void> {
  const masked = maskedPaths(DeliveryTarget, target);
  if (masked.length) {
    throw new ApiError("validation_failed", `Send the real ${masked.join(", ")} to test a target; "${MASK}" is only how responses show it`, {
      details: masked.map((f) => ({ path: f, message: "masked value" })),
    });
  }
  try {
    await testTarget(env, target, { attempts: 2, timeoutMs: 15_000 });
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    throw new ApiError("unprocessable", `Connection test failed: ${err.message}`, { details: [{ path: "kind", message: err.kind }] });
  }
}
