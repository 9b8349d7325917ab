-- Run chain: scheduling key, watermarks, multipart upload, retention; checkpoints and parts.
ALTER TABLE export_runs ADD COLUMN scheduled_for INTEGER;
ALTER TABLE export_runs ADD COLUMN watermark_after INTEGER;
ALTER TABLE export_runs ADD COLUMN watermark_until INTEGER;
-- options the run was started with (part size, chunk rows, ...), so a resumed run yields the same bytes
ALTER TABLE export_runs ADD COLUMN options TEXT;
ALTER TABLE export_runs ADD COLUMN total_rows INTEGER;
ALTER TABLE export_runs ADD COLUMN upload_id TEXT;
-- set when the retention cron deleted the file
ALTER TABLE export_runs ADD COLUMN expired_at INTEGER;

-- A scheduler firing twice for the same slot creates one run.
CREATE UNIQUE INDEX export_runs_export_scheduled ON export_runs (export_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX export_runs_tenant_id ON export_runs (tenant_id, id);

-- One row per step of the queue chain: where the chain stands after that step.
-- `state` is the formatter/compressor/hash state (JSON), or null when it was too large
-- for a D1 row and lives in R2 under `state_key`.
CREATE TABLE export_run_checkpoints (
  run_id TEXT NOT NULL REFERENCES export_runs (id),
  step INTEGER NOT NULL,
  cursor TEXT,
  rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  last_part INTEGER NOT NULL,
  carry_bytes INTEGER NOT NULL,
  state TEXT,
  state_key TEXT,
  done INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, step)
);

-- Multipart parts uploaded to R2, one row per part (etag needed to complete the upload).
CREATE TABLE export_run_parts (
  run_id TEXT NOT NULL REFERENCES export_runs (id),
  part_number INTEGER NOT NULL,
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  step INTEGER NOT NULL,
  PRIMARY KEY (run_id, part_number)
);
