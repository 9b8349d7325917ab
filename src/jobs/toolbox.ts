import { getDelivery } from "../db/deliveries";
import { getRun } from "../db/runs";
import { abortRecorded } from "../deliveries/job";
import { readRecipientKey } from "../exports/post/encrypt";
import type { Toolbox } from "../services/toolbox";
import { checkTargetConnection } from "../targets/check";

/** The toolbox run in-process, where the target drivers and OpenPGP are bundled (src/services/toolbox.ts). */
export const localToolbox: Toolbox = {
  checkTarget: (s, target) => checkTargetConnection(s.env, target),
  async checkPublicKey(_s, armored) {
    await readRecipientKey(armored);
  },
  async abortDelivery(s, tenantId, runId) {
    const run = await getRun(s.db, tenantId, runId);
    if (!run) return;
    await abortRecorded(s, await getDelivery(s.db, tenantId, runId), run);
  },
};
