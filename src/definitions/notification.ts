import type { Notification } from "../exports/definition";
import { ApiError } from "../lib/errors";
import type { Services } from "../services";
import { MASK } from "../targets/config";

/**
 * The notification part of a definition (a signed webhook per finished or failed run, sent by
 * src/runs/webhook.ts): its secret is sealed at rest and masked in answers.
 */

/** Seals the secret for storage; "****" keeps the stored one; an already-sealed value stays. */
export async function sealNotification(s: Pick<Services, "secrets">, n: Notification | undefined, previous?: Notification): Promise<Notification | undefined> {
  if (!n) return undefined;
  if (n.secret === MASK) {
    if (!previous) throw new ApiError("validation_failed", `notification.secret: "${MASK}" keeps the stored secret, but none is stored; send the real secret`);
    return { ...n, secret: previous.secret };
  }
  const sealed = await s.secrets.unseal(n.secret).then(
    () => true,
    () => false,
  );
  return sealed ? n : { ...n, secret: await s.secrets.seal(n.secret) };
}

export const maskNotification = (n: Notification | undefined) => (n ? { ...n, secret: MASK } : undefined);
