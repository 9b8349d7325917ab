import * as z from "zod";
import { ExportBody } from "../exports/definition";
import type { Services } from "../services";
import { S3Target } from "../targets/config";
import { createExport, type ExportRecord, findExportByName, setEnabled, updateExport } from "./definitions";

/**
 * Daily analytics delivery (reference: analytics-s3-layout.txt): one CSV per category and model,
 * every day at a chosen UTC time, under `analytics/<Category>/` in the tenant's bucket.
 *
 * Built on the export engine, not beside it: the setting is a set of ordinary export
 * definitions named `analytics.<model>` (all fields, csv, daily schedule, incremental, S3
 * target with the key template below), so scheduling, chunked generation, delivery, retries,
 * runs and downloads are the same code paths as every other export.
 */
export const ANALYTICS_CATEGORIES = {
  Achievements: ["achievements", "achievement_usages"],
  Campaigns: ["campaigns", "campaign_executions"],
  CustomEvent: ["custom_events"],
  Members: ["members"],
  Points: ["point_transfers"],
  Rewards: ["rewards", "reward_redemptions"],
  Tenant: ["stores"],
  Tiers: ["tiers"],
  Transactions: ["transactions"],
} as const;

export const AnalyticsSettings = z.object({
  enabled: z.boolean().default(true),
  /** HH:MM, UTC */
  time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "time must be HH:MM (UTC)"),
  /** the tenant's bucket; the key is set per file (analytics/<Category>/<model>_<date>.csv) */
  target: S3Target.omit({ key: true }),
});
export type AnalyticsSettings = z.infer<typeof AnalyticsSettings>;

export const analyticsExportName = (model: string) => `analytics.${model}`;

const definitionFor = (category: string, model: string, s: AnalyticsSettings) =>
  ExportBody.parse({
    name: analyticsExportName(model),
    model,
    all_fields: true,
    format: { type: "csv" },
    schedule: { type: "daily", time: s.time },
    // Each day's file holds the rows that arrived since the previous day's file.
    incremental: true,
    target: { ...s.target, key: `analytics/${category}/${model}_{date}.csv` },
    status: s.enabled ? "active" : "draft",
  });

export interface AnalyticsFile {
  category: string;
  model: string;
  export_id: string;
  status: string;
}

/** Creates or updates the analytics exports of a tenant; returns one entry per file. */
export async function configureAnalytics(s: Services, tenantId: string, createdBy: string, settings: AnalyticsSettings): Promise<AnalyticsFile[]> {
  const out: AnalyticsFile[] = [];
  for (const [category, models] of Object.entries(ANALYTICS_CATEGORIES)) {
    for (const model of models) {
      const def = definitionFor(category, model, settings);
      const cur = await findExportByName(s, tenantId, def.name);
      let rec: ExportRecord;
      if (!cur) {
        rec = await createExport(s, tenantId, createdBy, def);
      } else {
        // Only drafts and disabled definitions are edited: disable, replace, then publish (or not).
        if (cur.status === "active") await setEnabled(s, tenantId, cur.id, false);
        rec = await updateExport(s, tenantId, cur.id, def, settings.enabled);
      }
      out.push({ category, model, export_id: rec.id, status: rec.status });
    }
  }
  return out;
}

/** The analytics exports that exist for a tenant (empty when never configured). */
export async function analyticsFiles(s: Services, tenantId: string): Promise<AnalyticsFile[]> {
  const out: AnalyticsFile[] = [];
  for (const [category, models] of Object.entries(ANALYTICS_CATEGORIES)) {
    for (const model of models) {
      const rec = await findExportByName(s, tenantId, analyticsExportName(model));
      if (rec) out.push({ category, model, export_id: rec.id, status: rec.status });
    }
  }
  return out;
}
