import { surveyCompletedAt } from "../db/shards/segments";

/**
 * `GET /v1/assessment/user/status`: whether the user completed the survey whose answers their
 * trait scores come from (a survey response marked `completed`), and when (epoch seconds of the
 * latest such response; null when not completed).
 */
export async function assessmentStatus(db: D1Database, tenantId: string, userId: string): Promise<{ completed: boolean; completed_at: number | null }> {
  const at = await surveyCompletedAt(db, tenantId, userId);
  return { completed: at !== null, completed_at: at === null ? null : Math.floor(Date.parse(`${at.replace(" ", "T")}Z`) / 1000) };
}
