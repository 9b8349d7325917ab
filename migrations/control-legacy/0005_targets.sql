-- Delivery of a finished run's file to the export's target (S3, FTP, FTPS, SFTP, Azure).
-- One row per run; the target_delivery job updates it (src/jobs/target-delivery.ts).
CREATE TABLE run_deliveries (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  run_id TEXT NOT NULL REFERENCES export_runs (id),
  target_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'retrying', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- where the file landed, e.g. s3://bucket/key, sftp://host:22/path
  location TEXT,
  -- why the last attempt failed, for a person to act on
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE UNIQUE INDEX run_deliveries_run ON run_deliveries (tenant_id, run_id);
