-- Bulk ingestion from customers' buckets (docs/sources.md). A source is an S3-compatible bucket or
-- an Azure Blob container with a prefix; `config` is its JSON with secret fields sealed
-- (src/targets/config.ts sealTarget). The cron lists it page by page from `list_cursor`
-- (the last key seen; NULL = start of a new sweep) and records each new file version here.
CREATE TABLE sources (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('s3', 'azure')),
  config TEXT NOT NULL,
  webhook_url TEXT,
  -- sealed (encryptSecret), never returned
  webhook_secret TEXT,
  status TEXT NOT NULL CHECK (status IN ('ok', 'unreachable')) DEFAULT 'ok',
  last_error TEXT,
  list_cursor TEXT,
  last_listed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX sources_tenant ON sources (tenant_id, created_at);

-- One row per file version: (source, key, etag) is unique, so a version is ingested once and
-- a rewritten file (new etag) is a new row. `position` is the checkpoint: the byte offset of the
-- next record (plain NDJSON/CSV), the offset in the decompressed bytes (gzip), or the next row
-- group (Parquet). `prev_position` is where the last checkpoint was made from and
-- `enqueued_position` the last message sent (lets a redelivery resend a lost message).
CREATE TABLE source_files (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  model TEXT NOT NULL,
  format TEXT NOT NULL CHECK (format IN ('ndjson', 'csv', 'parquet')),
  gzip INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  -- CSV: JSON array of the header's columns once read
  columns TEXT,
  position INTEGER NOT NULL DEFAULT 0,
  next_line INTEGER NOT NULL DEFAULT 1,
  prev_position INTEGER,
  enqueued_position INTEGER,
  chunks INTEGER NOT NULL DEFAULT 0,
  rows_accepted INTEGER NOT NULL DEFAULT 0,
  rows_rejected INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE (source_id, key, etag)
);
CREATE INDEX source_files_source ON source_files (source_id, created_at);
CREATE INDEX source_files_status ON source_files (status, updated_at);

-- Per-line errors of a file (capped per file; rows_rejected counts them all).
CREATE TABLE source_file_errors (
  file_id TEXT NOT NULL REFERENCES source_files (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  field TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  PRIMARY KEY (file_id, line, field)
);
