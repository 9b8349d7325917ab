import { getDelivery } from "../db/deliveries";
import { getRun } from "../db/runs";
import { abortRecorded } from "../deliveries/job";
import { readRecipientKey } from "../exports/post/encrypt";
import { DecryptionError, readDecryptionKey } from "../ingest/sources/decrypt";
import { ApiError } from "../lib/errors";
import type { Services } from "../services";
import type { Toolbox } from "../services/toolbox";
import { checkTargetConnection } from "../targets/check";

/** The toolbox run in-process, where the target drivers and OpenPGP are bundled (src/services/toolbox.ts). */
export const localToolbox = (s: Services): Toolbox => ({
  checkTarget: (target) => checkTargetConnection(s.env, target),
  async checkPublicKey(armored) {
    await readRecipientKey(armored);
  },
  async unlockPrivateKey(armored, passphrase) {
    try {
      return (await readDecryptionKey(armored, passphrase)).armor();
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      throw new ApiError("validation_failed", err.message, { details: [{ path: "config.decryption_key", message: err.message }] });
    }
  },
  async abortDelivery(tenantId, runId) {
    const run = await getRun(s.db, tenantId, runId);
    if (!run) return;
    await abortRecorded(s, await getDelivery(s.db, tenantId, runId), run);
  },
});
