-- Idempotency-Key records, per tenant, on the tenant's data shard: written in the same D1 batch
-- as the rows they guard, so a stored response and its rows commit (or fail) together.
-- status/response are NULL while the first request is in flight; expires_at is then a short
-- lock, and becomes created_at + 24 h once the response is stored.
CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER,
  response TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- User-data deletion also matches the other side of a social interaction (catalog: identifiesUser).
CREATE INDEX social_dynamics_tenant_target_user_id ON social_dynamics (tenant_id, target_user_id);
