import { ApiError, type ErrorCode, type ErrorDetail } from "../lib/errors";
import type { DeliveryTarget } from "../targets/config";

/**
 * What the API needs done with the jobs worker's libraries: connecting to a delivery target
 * (the S3, FTP, SFTP, Azure, GCS drivers, ssh2), reading and unlocking OpenPGP keys (openpgp), aborting an upload
 * a failed delivery left on its target. The API worker does not bundle those libraries
 * (docs/architecture.md, "Two workers"), so it asks the jobs worker over the `TOOLBOX` service
 * binding (RPC, remoteToolbox below); the jobs worker and the all-in-one entry used by the tests
 * (src/index.ts) run them in-process (src/jobs/toolbox.ts).
 *
 * Every method throws the ApiError a person can act on, whichever side ran it.
 */
export interface Toolbox {
  /** "Test connection": connect and authenticate as a delivery would (400 masked secrets, 422 refused). */
  checkTarget(target: DeliveryTarget): Promise<void>;
  /** An armored OpenPGP public key that can encrypt, or a 400 naming what is wrong with it. */
  checkPublicKey(armored: string): Promise<void>;
  /**
   * A bucket source's decryption key, unlocked with its passphrase and armored again (stored
   * sealed, so the passphrase's seconds of S2K CPU are paid once); a 400 on config.decryption_key.
   */
  unlockPrivateKey(armored: string, passphrase: string | undefined): Promise<string>;
  /** Abort the multipart upload a failed delivery of the run left on its target, if any (best effort). */
  abortDelivery(tenantId: string, runId: string): Promise<void>;
}

/** An ApiError as it crosses the RPC boundary: errors thrown over RPC keep only their message. */
export type ToolResult<T = void> = { ok: true; value?: T } | { ok: false; error: { code: ErrorCode; message: string; details?: ErrorDetail[] } };

/** The jobs worker's RPC entrypoint, as the API worker sees it (src/jobs-worker.ts `Toolbox`). */
export interface ToolboxRpc {
  checkTarget(target: DeliveryTarget): Promise<ToolResult>;
  checkPublicKey(armored: string): Promise<ToolResult>;
  unlockPrivateKey(armored: string, passphrase: string | undefined): Promise<ToolResult<string>>;
  abortDelivery(tenantId: string, runId: string): Promise<ToolResult>;
  /** The cron's work, for `npm run dev` only: see src/api.ts `scheduled`. */
  runCron(): Promise<void>;
}

/** Runs `fn` and turns an ApiError into a ToolResult; anything else is thrown (a 500 on the caller's side). */
export async function toToolResult<T>(fn: () => Promise<T>): Promise<ToolResult<T>> {
  try {
    const value = await fn();
    return value === undefined ? { ok: true } : { ok: true, value };
  } catch (err) {
    if (err instanceof ApiError) return { ok: false, error: { code: err.code, message: err.message, details: err.details } };
    throw err;
  }
}

function unwrap<T>(r: ToolResult<T>): T {
  if (!r.ok) throw new ApiError(r.error.code, r.error.message, { details: r.error.details });
  return r.value as T;
}

/** The toolbox over the `TOOLBOX` service binding (the API worker's). */
export function remoteToolbox(rpc: ToolboxRpc): Toolbox {
  return {
    checkTarget: async (target) => unwrap(await rpc.checkTarget(target)),
    checkPublicKey: async (armored) => unwrap(await rpc.checkPublicKey(armored)),
    unlockPrivateKey: async (armored, passphrase) => unwrap(await rpc.unlockPrivateKey(armored, passphrase)),
    abortDelivery: async (tenantId, runId) => unwrap(await rpc.abortDelivery(tenantId, runId)),
  };
}

/** For a worker built without a toolbox and without the binding: says so instead of failing obscurely. */
export const missingToolbox: Toolbox = {
  checkTarget: unavailable,
  checkPublicKey: unavailable,
  unlockPrivateKey: unavailable,
  abortDelivery: unavailable,
};

async function unavailable(): Promise<never> {
  throw new ApiError("internal_error", "This worker has no TOOLBOX binding to the jobs worker (wrangler.toml [[services]]); deploy both workers");
}
