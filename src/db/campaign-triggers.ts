import { and, eq, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type CampaignTriggerRow, campaign_triggers, exports } from "./schema";

/**
 * The `operation_end` schedule's bookkeeping (src/cron/operation-end.ts): which definitions
 * wait for campaign ends, and which campaign ends already started a run of which definition.
 */

export interface OperationEndExport {
  id: string;
  tenant_id: string;
  name: string;
  definition: string;
  created_at: number;
}

/**
 * Active definitions whose schedule is `operation_end`, over all tenants (the cron's scan; the
 * runs it starts are created scoped by each row's tenant). Oldest checked first: `after` is a
 * cursor on the id so a tick can resume where the previous one stopped.
 */
export async function operationEndExportsUnscoped(db: ControlDb, afterId: string, limit: number): Promise<OperationEndExport[]> {
  return db
    .select({ id: exports.id, tenant_id: exports.tenant_id, name: exports.name, definition: exports.definition, created_at: exports.created_at })
    .from(exports)
    .where(
      and(
        eq(exports.status, "active"),
        isNull(exports.deleted_at),
        sql`json_extract(${exports.definition}, '$.schedule.type') = 'operation_end'`,
        sql`${exports.id} > ${afterId}`,
      ),
    )
    .orderBy(exports.id)
    .limit(limit)
    .all();
}

/** The campaign codes whose end already started a run of this definition. */
export async function triggeredCampaigns(db: ControlDb, tenantId: string, exportId: string): Promise<string[]> {
  const rows = await db
    .select({ code: campaign_triggers.campaign_code })
    .from(campaign_triggers)
    .where(and(eq(campaign_triggers.tenant_id, tenantId), eq(campaign_triggers.export_id, exportId)))
    .all();
  return rows.map((r) => r.code);
}

/**
 * The statement recording that `campaign_code`'s end started `run_id`; for the batch that creates
 * the run. A plain INSERT: when the pair is recorded already it fails, and with it the whole
 * batch (D1 runs a batch as one transaction), so no second run is made.
 * https://developers.cloudflare.com/d1/worker-api/d1-database/#batch
 */
export function insertCampaignTrigger(db: ControlDb, row: CampaignTriggerRow): BatchItem<"sqlite"> {
  return db.insert(campaign_triggers).values(row);
}

export async function getCampaignTrigger(db: ControlDb, tenantId: string, exportId: string, campaignCode: string): Promise<CampaignTriggerRow | undefined> {
  return db
    .select()
    .from(campaign_triggers)
    .where(and(eq(campaign_triggers.tenant_id, tenantId), eq(campaign_triggers.export_id, exportId), eq(campaign_triggers.campaign_code, campaignCode)))
    .get();
}
