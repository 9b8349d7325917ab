-- When each export definition runs next (epoch seconds, UTC); NULL when it never runs on its own
-- (schedule "now", a past "once"). Kept by src/cron/schedules.ts on create, update, enable.
ALTER TABLE exports ADD COLUMN next_run_at INTEGER;
CREATE INDEX exports_due ON exports (next_run_at) WHERE next_run_at IS NOT NULL AND deleted_at IS NULL;
