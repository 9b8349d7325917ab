import { lastCompletedSurveyAt, tenantData } from "../../db/shards";
import type { Principal } from "../../env";
import { getModel } from "../../models";
import type { Services } from "../../services";
import { timestampToEpoch } from "./formats";

/**
 * Whether a user completed the survey: a survey response marked completed. `completed_at`
 * is the epoch second of the latest such response, null when not completed.
 */
export async function assessmentStatus(s: Services, principal: Principal, userId: string) {
  const model = getModel("survey_responses");
  if (!model) throw new Error("survey_responses missing from the catalog");
  const at = await lastCompletedSurveyAt(tenantData(s.shards, principal), model, userId);
  return { completed: at !== null, completed_at: at === null ? null : timestampToEpoch(at) };
}
