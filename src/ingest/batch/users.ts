import type { Env, Principal } from "../../env";
import { newId } from "../../lib/ids";
import { MODELS, getModel } from "../../models";
import { tenantData } from "../../db/shards";
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
export async function deleteUserData(
  env: Env,
  principal: Principal,
  userId: string,
  extra: D1PreparedStatement[] = [],
): Promise<DeletionResult> {
  const td = tenantData(env, principal);
  const statements = USER_COLUMNS.map(({ model, column }) =>
    td.db.prepare(`DELETE FROM ${model} WHERE tenant_id = ?1 AND ${column} = ?2`).bind(td.tenantId, userId),
  );
  const results = await td.db.batch([...statements, ...extra]);
  const by_model: Record<string, number> = {};
  let rows = 0;
  USER_COLUMNS.forEach(({ model }, i) => {
    const n = results[i]?.meta.changes ?? 0;
    if (n) by_model[model] = (by_model[model] ?? 0) + n;
    rows += n;
  });
  await env.DB.prepare(
    "INSERT INTO audit_log (id, tenant_id, actor, action, details, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
  )
    .bind(
      newId("aud"),
      principal.tenantId,
      `${principal.kind}:${principal.subject}`,
      "user_data.delete",
      JSON.stringify({ user_id: userId, rows, by_model }),
      Math.floor(Date.now() / 1000),
    )
    .run();
  return { rows, by_model };
}

/**
 * Whether a user completed the survey: a survey response marked completed. `completed_at`
 * is the epoch second of the latest such response, null when not completed.
 */
export async function assessmentStatus(env: Env, principal: Principal, userId: string) {
  const model = getModel("survey_responses");
  if (!model) throw new Error("survey_responses missing from the catalog");
  const td = tenantData(env, principal);
  const row = await td.db
    .prepare(`SELECT max(${model.timeField}) AS at FROM ${model.name} WHERE tenant_id = ?1 AND ${model.userField} = ?2 AND completed = 1`)
    .bind(td.tenantId, userId)
    .first<{ at: string | null }>();
  const at = row?.at ?? null;
  return { completed: at !== null, completed_at: at === null ? null : timestampToEpoch(at) };
}
