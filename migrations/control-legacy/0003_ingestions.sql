-- CSV ingestions (POST /v1/kpis/csv, /v1/survey-data/csv). The file is staged in R2 under
-- `file_key`; a chain of `csv_ingest` queue messages reads it in byte ranges and records the
-- checkpoint here. `next_offset` is the byte offset of the first record not yet processed;
-- `prev_offset` the offset the last checkpoint was made from; `enqueued_offset` the offset of the
-- last message sent (lets a redelivered message resend a lost one without forking the chain).
CREATE TABLE ingestions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  model TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  file_key TEXT NOT NULL,
  file_name TEXT,
  file_bytes INTEGER NOT NULL,
  -- JSON array: the header's columns in file order (field names of the model)
  columns TEXT NOT NULL,
  chunk_bytes INTEGER NOT NULL,
  chunk_rows INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  next_line INTEGER NOT NULL,
  prev_offset INTEGER,
  enqueued_offset INTEGER,
  chunks INTEGER NOT NULL DEFAULT 0,
  rows_accepted INTEGER NOT NULL DEFAULT 0,
  rows_rejected INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX ingestions_tenant_created ON ingestions (tenant_id, created_at);
CREATE INDEX ingestions_status_updated ON ingestions (status, updated_at);

-- Per-row errors of an ingestion, with the line number the rejected record starts on.
-- Capped per ingestion (the count in ingestions.rows_rejected is not).
CREATE TABLE ingestion_errors (
  ingestion_id TEXT NOT NULL REFERENCES ingestions (id),
  line INTEGER NOT NULL,
  field TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  PRIMARY KEY (ingestion_id, line, field)
);
