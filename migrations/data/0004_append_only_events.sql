-- Append-only event tables: the per-user index (tenant_id, <user field>) is dropped from every
-- table that nothing reads per user on a request or a per-user pass. Each 1000-row batch
-- scattered ~1000 writes over that index's pages (bench/ingest measures the raw insert rate of
-- both layouts). User-data deletion now runs as a background chain that scans the tenant's rows
-- in chunks (docs/ingestion.md). Tables read per user keep theirs (the catalog's `userIndex`
-- says why: logins, purchases, virtual_purchases, level_ups, survey_responses, user_traits,
-- persona_members); members and user_connections are served by their unique key, which starts
-- with the user field. Generated from the catalog: compare `npm run gen:data-ddl`.
DROP INDEX IF EXISTS actions_tenant_user;
DROP INDEX IF EXISTS social_dynamics_tenant_user;
DROP INDEX IF EXISTS social_dynamics_tenant_target_user_id;
DROP INDEX IF EXISTS kpis_tenant_user;
DROP INDEX IF EXISTS members_tenant_user;
DROP INDEX IF EXISTS transactions_tenant_user;
DROP INDEX IF EXISTS point_transfers_tenant_user;
DROP INDEX IF EXISTS reward_redemptions_tenant_user;
DROP INDEX IF EXISTS achievement_usages_tenant_user;
DROP INDEX IF EXISTS campaign_executions_tenant_user;
DROP INDEX IF EXISTS custom_events_tenant_user;
DROP INDEX IF EXISTS coupons_tenant_user;
DROP INDEX IF EXISTS participations_tenant_user;
DROP INDEX IF EXISTS prize_awards_tenant_user;
DROP INDEX IF EXISTS user_connections_tenant_user;
