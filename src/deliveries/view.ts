import { getChainForTenant } from "../db/chains";
import { getDelivery } from "../db/deliveries";
import { DELIVERY_STATUSES } from "../db/schema";
import type { Services } from "../services";

/**
 * Where a run's file was pushed, or why not: what GET run shows as `delivery`. Null for a run
 * whose target is `download` (nothing is pushed).
 */
export interface DeliveryView {
  status: (typeof DELIVERY_STATUSES)[number];
  /** s3, ftp, ftps, sftp, azure, gcs; null while the delivery has not begun */
  target_type: string | null;
  /** transient failures so far (each retried by the chain); 0 for a clean delivery */
  attempts: number;
  /** why it failed (`failed`), or the last transient failure (`retrying`) */
  error: string | null;
  /** where the file landed (`s3://bucket/key`, `sftp://host:22/path`, ...) once delivered */
  location: string | null;
  updated_at: string;
  delivered_at: string | null;
}

/** Epoch seconds as the runs API shows times: `2024-06-20T09:35:57+00:00`. */
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00");

/** The delivery of one run, tenant-scoped (another tenant's run has none: null). */
export async function deliveryView(s: Services, tenantId: string, runId: string): Promise<DeliveryView | null> {
  const row = await getDelivery(s.db, tenantId, runId);
  if (row) {
    return {
      status: row.status,
      target_type: row.target_type,
      attempts: row.attempts,
      error: row.error,
      location: row.location,
      updated_at: iso(row.updated_at),
      delivered_at: row.delivered_at === null ? null : iso(row.delivered_at),
    };
  }
  // The chain is started with the run's last write; its first link creates the row.
  const chain = await getChainForTenant(s.db, tenantId, "delivery", runId);
  if (!chain || chain.status === "done") return null; // never started, or a download target
  return {
    status: chain.status === "running" ? "pending" : "failed",
    target_type: null,
    attempts: chain.attempts,
    error: chain.last_error,
    location: null,
    updated_at: iso(chain.updated_at),
    delivered_at: null,
  };
}

/** The delivery row of a run as `GET /api/1/targets/deliveries/:run_id` answers it (epoch seconds), or null. */
export async function deliveryRecord(s: Services, tenantId: string, runId: string) {
  const row = await getDelivery(s.db, tenantId, runId);
  if (!row) return null;
  const { id, run_id, target_type, status, attempts, location, error, created_at, updated_at, delivered_at } = row;
  return { id, run_id, target_type, status, attempts, location, error, created_at, updated_at, delivered_at };
}
