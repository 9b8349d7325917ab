-- Export definitions. `definition` holds the validated ExportBody JSON (src/exports/definition.ts).
CREATE TABLE exports (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  model TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'disabled')),
  favourite INTEGER NOT NULL DEFAULT 0,
  definition TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE UNIQUE INDEX exports_tenant_name ON exports (tenant_id, name) WHERE deleted_at IS NULL;
CREATE INDEX exports_tenant_created ON exports (tenant_id, created_at);

-- Runs ("results"). One row per run; parts/checkpoints in export_run_parts.
CREATE TABLE export_runs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  export_id TEXT NOT NULL REFERENCES exports (id),
  status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'finished', 'failed')),
  trigger TEXT NOT NULL DEFAULT 'manual',
  -- snapshot of the definition the run was made from
  definition TEXT NOT NULL,
  rows INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  progress REAL NOT NULL DEFAULT 0,
  sha256 TEXT,
  error TEXT,
  file_key TEXT,
  file_name TEXT,
  content_type TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  expires_at INTEGER
);
CREATE INDEX export_runs_export_created ON export_runs (tenant_id, export_id, created_at);
CREATE INDEX export_runs_expires ON export_runs (expires_at) WHERE expires_at IS NOT NULL;
