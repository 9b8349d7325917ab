/**
 * Data-shard reads and writes of segments and personas (docs/segments.md): the users with trait
 * scores, their survey answers and pushed scores, the per-user aggregates segment filters run
 * on, the recompute's working table (`segment_vectors`) and persona membership
 * (`persona_members`). Every function takes the tenant's handle, and every query filters on its
 * tenant id.
 *
 * Bulk writes pass their rows as one JSON parameter read with json_each, cut by chunkRows
 * (records.ts) so that no statement passes ~90 KB: D1 allows 100 KB per statement and 100 bound
 * parameters.
 * https://developers.cloudflare.com/d1/platform/limits/
 */

import type { TenantData } from "./router";
import { chunkRows } from "./records";

type Param = string | number | null;

/**
 * The next `limit` users (by id, after `after`) who have survey answers or pushed trait scores.
 * Each side is limited on its own index (tenant_id, user_id) first, so a page reads at most
 * 2 x `limit` distinct ids whatever the table sizes.
 */
export async function usersWithScores(td: TenantData, after: string, limit: number): Promise<string[]> {
  const { results } = await td.db
    .prepare(
      `SELECT user_id FROM (
         SELECT user_id FROM (SELECT DISTINCT user_id FROM survey_responses WHERE tenant_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3)
         UNION
         SELECT user_id FROM (SELECT DISTINCT user_id FROM user_traits WHERE tenant_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3)
       ) ORDER BY user_id LIMIT ?3`,
    )
    .bind(td.tenantId, after, limit)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

/**
 * Per-user aggregates over the behavioural models, one SQL expression each over the user id
 * `u.value` and the tenant parameter `$T`. Segment filters name them as fields
 * (src/segments/filters.ts describes each one to the API).
 */
const FACTS: Record<string, string> = {
  country: `(SELECT l.country FROM logins AS l WHERE l.tenant_id = $T AND l.user_id = u.value AND l.country IS NOT NULL AND l.country <> '' ORDER BY l.timestamp DESC, l.row_id DESC LIMIT 1)`,
  language: `(SELECT l.language FROM logins AS l WHERE l.tenant_id = $T AND l.user_id = u.value AND l.language IS NOT NULL AND l.language <> '' ORDER BY l.timestamp DESC, l.row_id DESC LIMIT 1)`,
  platform: `(SELECT l.platform FROM logins AS l WHERE l.tenant_id = $T AND l.user_id = u.value AND l.platform IS NOT NULL AND l.platform <> '' ORDER BY l.timestamp DESC, l.row_id DESC LIMIT 1)`,
  level: `(SELECT max(x.level) FROM (SELECT level FROM logins WHERE tenant_id = $T AND user_id = u.value UNION ALL SELECT level FROM level_ups WHERE tenant_id = $T AND user_id = u.value) AS x)`,
  logins: `(SELECT count(*) FROM logins AS l WHERE l.tenant_id = $T AND l.user_id = u.value)`,
  last_login: `(SELECT max(l.timestamp) FROM logins AS l WHERE l.tenant_id = $T AND l.user_id = u.value)`,
  purchases: `(SELECT count(*) FROM purchases AS p WHERE p.tenant_id = $T AND p.user_id = u.value)`,
  purchase_total: `(SELECT coalesce(sum(p.price), 0) FROM purchases AS p WHERE p.tenant_id = $T AND p.user_id = u.value)`,
  last_purchase: `(SELECT max(p.timestamp) FROM purchases AS p WHERE p.tenant_id = $T AND p.user_id = u.value)`,
  virtual_purchases: `(SELECT count(*) FROM virtual_purchases AS p WHERE p.tenant_id = $T AND p.user_id = u.value)`,
  survey_completed: `(SELECT count(*) > 0 FROM survey_responses AS s WHERE s.tenant_id = $T AND s.user_id = u.value AND s.completed = 1)`,
};

/** The per-user aggregates a segment filter can name. */
export const USER_FACTS: readonly string[] = Object.keys(FACTS);

/**
 * The users among `users` that pass a compiled filter (src/exports/compiler.ts compileFilters:
 * SQL over the columns of alias `t`, parameters ?1..?n). Only the aggregates named in `facts`
 * are computed.
 */
export async function filterUsers(
  td: TenantData,
  users: readonly string[],
  filter: { sql: string; params: readonly Param[]; facts: readonly string[] },
): Promise<string[]> {
  if (!users.length) return [];
  const n = filter.params.length;
  const tenant = `?${n + 2}`;
  const columns = filter.facts.map((f) => {
    const expr = FACTS[f];
    if (!expr) throw new Error(`unknown user aggregate '${f}'`);
    return `${expr.replaceAll("$T", tenant)} AS "${f}"`;
  });
  const sql = `SELECT t.user_id FROM (SELECT u.value AS user_id${columns.map((c) => `, ${c}`).join("")} FROM json_each(?${n + 1}) AS u) AS t WHERE ${filter.sql} ORDER BY t.user_id`;
  const { results } = await td.db
    .prepare(sql)
    .bind(...filter.params, JSON.stringify(users), td.tenantId)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

/**
 * Survey answers of `users`, oldest first (the latest answer per question wins). Every question:
 * the caller keeps the key's (a key's question list could pass D1's statement size as a parameter).
 */
export async function surveyAnswers(td: TenantData, users: readonly string[]): Promise<{ user_id: string; question_id: string; answer: string | null }[]> {
  if (!users.length) return [];
  const { results } = await td.db
    .prepare(
      `SELECT user_id, question_id, answer FROM survey_responses
       WHERE tenant_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))
       ORDER BY user_id, timestamp, row_id`,
    )
    .bind(td.tenantId, JSON.stringify(users))
    .all<{ user_id: string; question_id: string; answer: string | null }>();
  return results;
}

/** Pushed trait scores of `users`, oldest first (the latest per trait wins). */
export async function pushedScores(
  td: TenantData,
  users: readonly string[],
): Promise<{ user_id: string; category: string; trait: string; score: number }[]> {
  if (!users.length) return [];
  const { results } = await td.db
    .prepare(
      `SELECT user_id, category, trait, score FROM user_traits
       WHERE tenant_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))
       ORDER BY user_id, timestamp, row_id`,
    )
    .bind(td.tenantId, JSON.stringify(users))
    .all<{ user_id: string; category: string; trait: string; score: number }>();
  return results;
}

/** Writes trait vectors (`[user_id, vector JSON]`) of a recompute; writing the same again changes nothing. */
export async function writeVectors(td: TenantData, segmentId: string, runId: string, rows: readonly [string, string][]): Promise<void> {
  if (!rows.length) return;
  const stmt = td.db.prepare(
    `INSERT OR REPLACE INTO segment_vectors (tenant_id, segment_id, run_id, user_id, vector)
     SELECT ?1, ?2, ?3, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?4)`,
  );
  await td.db.batch(chunkRows(rows).map((json) => stmt.bind(td.tenantId, segmentId, runId, json)));
}

/** The next `limit` vectors of a recompute after user `after`, by user id. */
export async function readVectors(
  td: TenantData,
  segmentId: string,
  runId: string,
  after: string,
  limit: number,
): Promise<{ user_id: string; vector: string }[]> {
  const { results } = await td.db
    .prepare(
      `SELECT user_id, vector FROM segment_vectors WHERE tenant_id = ?1 AND segment_id = ?2 AND run_id = ?3 AND user_id > ?4
       ORDER BY user_id LIMIT ?5`,
    )
    .bind(td.tenantId, segmentId, runId, after, limit)
    .all<{ user_id: string; vector: string }>();
  return results;
}

/** Deletes up to `limit` working rows of a segment (every recompute of it); returns how many. */
export async function deleteVectors(td: TenantData, segmentId: string, limit: number): Promise<number> {
  const r = await td.db
    .prepare(
      `DELETE FROM segment_vectors WHERE tenant_id = ?1 AND segment_id = ?2 AND (run_id, user_id) IN
         (SELECT run_id, user_id FROM segment_vectors WHERE tenant_id = ?1 AND segment_id = ?2 LIMIT ?3)`,
    )
    .bind(td.tenantId, segmentId, limit)
    .run();
  return r.meta.changes;
}

/**
 * Writes membership rows `[persona, user_id, distance]` of one result (`computedAt`). The key
 * (tenant, segment, computed_at, persona, user) makes writing the same rows again a no-op.
 */
export async function writeMembers(
  td: TenantData,
  segmentId: string,
  computedAt: string,
  ingestedAt: number,
  rows: readonly [number, string, number][],
): Promise<void> {
  if (!rows.length) return;
  const stmt = td.db.prepare(
    `INSERT OR IGNORE INTO persona_members (tenant_id, ingested_at, segment, persona, user_id, distance, computed_at)
     SELECT ?1, ?2, ?3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?4 FROM json_each(?5)`,
  );
  await td.db.batch(chunkRows(rows).map((json) => stmt.bind(td.tenantId, ingestedAt, segmentId, computedAt, json)));
}

/** Deletes up to `limit` membership rows of a segment other than result `keep` (null: all); returns how many. */
export async function deleteMembers(td: TenantData, segmentId: string, keep: string | null, limit: number): Promise<number> {
  const r = await td.db
    .prepare(
      `DELETE FROM persona_members WHERE row_id IN
         (SELECT row_id FROM persona_members WHERE tenant_id = ?1 AND segment = ?2 AND (?3 IS NULL OR computed_at <> ?3) LIMIT ?4)`,
    )
    .bind(td.tenantId, segmentId, keep, limit)
    .run();
  return r.meta.changes;
}

/**
 * A page of member ids of one result, in (persona, user id) order, after `after`: one persona,
 * or all of them (`persona` null).
 */
export async function memberPage(
  td: TenantData,
  segmentId: string,
  computedAt: string,
  persona: number | null,
  after: { persona: number; user: string } | null,
  limit: number,
): Promise<{ persona: number; user_id: string }[]> {
  const where = ["tenant_id = ?1", "segment = ?2", "computed_at = ?3"];
  const params: Param[] = [td.tenantId, segmentId, computedAt];
  if (persona !== null) {
    params.push(persona);
    where.push(`persona = ?${params.length}`);
  }
  if (after) {
    params.push(after.persona, after.user);
    where.push(`(persona, user_id) > (?${params.length - 1}, ?${params.length})`);
  }
  params.push(limit);
  const { results } = await td.db
    .prepare(`SELECT persona, user_id FROM persona_members WHERE ${where.join(" AND ")} ORDER BY persona, user_id LIMIT ?${params.length}`)
    .bind(...params)
    .all<{ persona: number; user_id: string }>();
  return results;
}
