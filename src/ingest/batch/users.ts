import { deleteUserRows, lastCompletedSurveyAt, tenantData } from "../../db/shards";
import { appendAudit } from "../../db/tenants";
import type { Principal } from "../../env";
import { newId } from "../../lib/ids";
import { MODELS, getModel } from "../../models";
import type { Services } from "../../services";
import { timestampToEpoch } from "./formats";

/** Every (model, column) pair that holds an end user's id: the model's userField and fields marked identifiesUser. */
export const USER_COLUMNS: readonly { model: string; column: string }[] = MODELS.flatMap((m) => {
  const cols = new Set<string>();
  if (m.userField) cols.add(m.userField);
  for (const f of m.fields) if (f.identifiesUser) cols.add(f.name);
  return [...cols].map((column) => ({ model: m.name, column }));
});

export interface DeletionResult {
  rows: number;
  by_model: Record<string, number>;
}

/**
 * Permanently deletes every row of one end user across all models of the tenant, in one D1
 * batch (one transaction) on the tenant's shard; `extra` statements (the idempotency record)
 * commit with it. Idempotent: a second call deletes nothing and reports 0 rows. The audit log
 * (control DB) records who asked, when and how many rows went.
 */
export async function deleteUserData(s: Services, principal: Principal, userId: string, extra: D1PreparedStatement[] = []): Promise<DeletionResult> {
  const changes = await deleteUserRows(tenantData(s.shards, principal), USER_COLUMNS, userId, extra);
  const by_model: Record<string, number> = {};
  let rows = 0;
  USER_COLUMNS.forEach(({ model }, i) => {
    const n = changes[i] ?? 0;
    if (n) by_model[model] = (by_model[model] ?? 0) + n;
    rows += n;
  });
  await appendAudit(s.db, {
    id: newId("aud"),
    tenant_id: principal.tenantId,
    actor: `${principal.kind}:${principal.subject}`,
    action: "user_data.delete",
    details: { user_id: userId, rows, by_model },
    created_at: s.clock.seconds(),
  });
  return { rows, by_model };
}

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
