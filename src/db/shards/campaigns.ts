import type { TenantData } from "./router";

/** A campaign of the `campaigns` model whose end has passed. */
export interface EndedCampaign {
  campaign_code: string;
  campaign_end: string;
}

/**
 * Campaigns whose `campaign_end` (stored `YYYY-MM-DD HH:MM:SS`, UTC, so text order is time
 * order) lies in (`after`, `until`], leaving out the codes in `exclude`; earliest end first.
 * `exclude` travels as one JSON parameter (D1 binds at most 100 parameters per statement,
 * https://developers.cloudflare.com/d1/platform/limits/).
 */
export async function endedCampaigns(td: TenantData, after: string, until: string, exclude: readonly string[], limit: number): Promise<EndedCampaign[]> {
  const { results } = await td.db
    .prepare(
      `SELECT campaign_code, campaign_end FROM campaigns
       WHERE tenant_id = ?1 AND campaign_end > ?2 AND campaign_end <= ?3
         AND campaign_code NOT IN (SELECT value FROM json_each(?4))
       ORDER BY campaign_end, campaign_code LIMIT ?5`,
    )
    .bind(td.tenantId, after, until, JSON.stringify(exclude), limit)
    .all<EndedCampaign>();
  return results;
}
