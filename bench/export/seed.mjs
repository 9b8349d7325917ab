// The export benches' rows: N participations, the same for the dev server's shard and for the
// sqlite3 baseline file (bench/export/run.mjs, bench/export/health.mjs).
export const COLUMNS = ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"];

export const seedSql = (tenantId, n) => `
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n})
INSERT INTO participations (tenant_id, ingested_at, user_id, stackinstanceid, stackid, value, has_won, has_completed, participation_date)
SELECT '${tenantId}', 1700000000 + n, 'user-' || n, 'si-' || (n % 997), 'stack-' || (n % 13), n % 1000, n % 2, 1,
       '2026-01-' || printf('%02d', 1 + n % 28) || ' ' || printf('%02d:%02d:%02d', n % 24, n % 60, (n * 7) % 60)
FROM s;`;
