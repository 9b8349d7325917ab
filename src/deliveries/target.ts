import type { DeliveryRow, RunRow } from "../db/schema";
import { unsealSecrets } from "../lib/secrets";
import type { Services } from "../services";
import { DeliveryTarget } from "../targets/config";
import { TargetError } from "../targets/types";

/** A push target as a delivery uses it: sealed (as stored) and plain (for the driver only). */
export interface ResolvedTarget {
  type: DeliveryTarget["type"];
  /** the sealed target as JSON, as run_deliveries.target keeps it */
  sealed: string;
  plain: DeliveryTarget;
}

/** The sealed target of a run's definition snapshot, or null for a download target. */
export function snapshotTarget(run: Pick<RunRow, "definition">): Record<string, unknown> | null {
  const def = JSON.parse(run.definition) as { target?: { type?: string } & Record<string, unknown> };
  const target = def.target;
  return target && target.type !== "download" ? target : null;
}

/** A definition's sealed target (object or stored JSON), checked and unsealed for its driver. */
export async function resolveTarget(s: Services, sealed: Record<string, unknown> | string): Promise<ResolvedTarget> {
  const stored = typeof sealed === "string" ? (JSON.parse(sealed) as Record<string, unknown>) : sealed;
  let plain: unknown;
  try {
    plain = await unsealSecrets(s.secrets, DeliveryTarget, stored);
  } catch {
    throw new TargetError("config", `the ${String(stored.type)} target's credentials cannot be read (sealed with another SECRETS_KEY?); save the target again`);
  }
  // Validated unsealed: some rules look at the secret itself (an Azure SAS must contain sig=).
  const parsed = DeliveryTarget.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TargetError("config", `the ${String(stored.type)} target is invalid: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "unreadable"}`);
  }
  return { type: parsed.data.type, sealed: JSON.stringify(stored), plain: parsed.data };
}

/** The target a delivery row pushes to: the one it recorded, else (older rows) the run's snapshot. */
export function rowTarget(row: Pick<DeliveryRow, "target"> | undefined, run: Pick<RunRow, "definition">): Record<string, unknown> | string | null {
  return row?.target ?? snapshotTarget(run);
}
