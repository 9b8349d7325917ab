-- The export module's remaining models (products, coupon pools, challenges, changes, content
-- approval, webhook logs), generated from the catalog by `npm run gen:data-ddl`, and the JSON
-- column that holds the values of a tenant's custom member fields (src/models/custom.ts).
ALTER TABLE members ADD COLUMN custom_fields TEXT;

CREATE TABLE products (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  product_id TEXT NOT NULL,
  name TEXT NOT NULL,
  category TEXT,
  brand TEXT,
  price REAL,
  currency TEXT,
  status TEXT,
  url TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX products_tenant_time ON products (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX products_tenant_key ON products (tenant_id, product_id);

CREATE TABLE coupon_pools (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  pool_id TEXT NOT NULL,
  name TEXT NOT NULL,
  code_type TEXT,
  status TEXT,
  total_codes INTEGER,
  available_codes INTEGER,
  valid_from TEXT,
  expires_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX coupon_pools_tenant_time ON coupon_pools (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX coupon_pools_tenant_key ON coupon_pools (tenant_id, pool_id);

CREATE TABLE challenges (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  challenge_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  challenge_name TEXT,
  status TEXT,
  progress REAL,
  steps TEXT,
  completed_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX challenges_tenant_time ON challenges (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX challenges_tenant_key ON challenges (tenant_id, challenge_id, customer_id);

CREATE TABLE changes (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  field_name TEXT NOT NULL,
  old_value TEXT,
  new_value TEXT,
  source TEXT NOT NULL,
  changed_at TEXT NOT NULL
);
CREATE INDEX changes_tenant_time ON changes (tenant_id, changed_at, row_id);

CREATE TABLE content_approvals (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  content_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content TEXT,
  status TEXT NOT NULL,
  reviewer TEXT,
  reason TEXT,
  submitted_at TEXT NOT NULL,
  reviewed_at TEXT
);
CREATE INDEX content_approvals_tenant_time ON content_approvals (tenant_id, submitted_at, row_id);
CREATE UNIQUE INDEX content_approvals_tenant_key ON content_approvals (tenant_id, content_id);

CREATE TABLE webhook_logs (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  url TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  response_status INTEGER,
  error TEXT,
  duration_ms INTEGER,
  created_at TEXT NOT NULL
);
CREATE INDEX webhook_logs_tenant_time ON webhook_logs (tenant_id, created_at, row_id);
