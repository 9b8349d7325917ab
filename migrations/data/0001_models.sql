-- Tenant data tables, generated from the model catalog by `npm run gen:data-ddl`.
-- A test checks that the shard schema matches the catalog.
CREATE TABLE actions (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  action_id TEXT NOT NULL,
  action_name TEXT NOT NULL,
  action_params TEXT
);
CREATE INDEX actions_tenant_time ON actions (tenant_id, timestamp, row_id);
CREATE INDEX actions_tenant_user ON actions (tenant_id, user_id);

CREATE TABLE logins (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  clan_id TEXT,
  level INTEGER,
  device TEXT,
  country TEXT,
  platform TEXT,
  language TEXT,
  register_date TEXT,
  last_login_timestamp TEXT
);
CREATE INDEX logins_tenant_time ON logins (tenant_id, timestamp, row_id);
CREATE INDEX logins_tenant_user ON logins (tenant_id, user_id);

CREATE TABLE purchases (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  price REAL NOT NULL,
  platform TEXT
);
CREATE INDEX purchases_tenant_time ON purchases (tenant_id, timestamp, row_id);
CREATE INDEX purchases_tenant_user ON purchases (tenant_id, user_id);

CREATE TABLE virtual_purchases (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  virtual_price REAL NOT NULL,
  currency TEXT NOT NULL
);
CREATE INDEX virtual_purchases_tenant_time ON virtual_purchases (tenant_id, timestamp, row_id);
CREATE INDEX virtual_purchases_tenant_user ON virtual_purchases (tenant_id, user_id);

CREATE TABLE level_ups (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  level INTEGER NOT NULL
);
CREATE INDEX level_ups_tenant_time ON level_ups (tenant_id, timestamp, row_id);
CREATE INDEX level_ups_tenant_user ON level_ups (tenant_id, user_id);

CREATE TABLE items (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  item_id TEXT NOT NULL,
  price REAL NOT NULL,
  currency TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT
);
CREATE INDEX items_tenant_time ON items (tenant_id, ingested_at, row_id);
CREATE UNIQUE INDEX items_tenant_key ON items (tenant_id, item_id);

CREATE TABLE social_dynamics (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  target_user_id TEXT NOT NULL,
  connection TEXT,
  interaction TEXT NOT NULL,
  interaction_params TEXT
);
CREATE INDEX social_dynamics_tenant_time ON social_dynamics (tenant_id, timestamp, row_id);
CREATE INDEX social_dynamics_tenant_user ON social_dynamics (tenant_id, user_id);

CREATE TABLE kpis (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  register_date TEXT,
  churn_date TEXT,
  kpi_id TEXT NOT NULL,
  value REAL NOT NULL
);
CREATE INDEX kpis_tenant_time ON kpis (tenant_id, timestamp, row_id);
CREATE INDEX kpis_tenant_user ON kpis (tenant_id, user_id);

CREATE TABLE survey_responses (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  timestamp TEXT,
  user_id TEXT NOT NULL,
  survey_id TEXT,
  question_id TEXT NOT NULL,
  answer TEXT,
  completed INTEGER
);
CREATE INDEX survey_responses_tenant_time ON survey_responses (tenant_id, timestamp, row_id);
CREATE INDEX survey_responses_tenant_user ON survey_responses (tenant_id, user_id);

CREATE TABLE members (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  email TEXT,
  first_name TEXT,
  last_name TEXT,
  status TEXT,
  tier TEXT,
  points_balance INTEGER,
  country TEXT,
  store_code TEXT,
  opted_in_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX members_tenant_time ON members (tenant_id, updated_at, row_id);
CREATE INDEX members_tenant_user ON members (tenant_id, customer_id);
CREATE UNIQUE INDEX members_tenant_key ON members (tenant_id, customer_id);

CREATE TABLE transactions (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  transaction_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  total REAL NOT NULL,
  currency TEXT,
  items_count INTEGER,
  status TEXT,
  store_code TEXT,
  channel TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX transactions_tenant_time ON transactions (tenant_id, created_at, row_id);
CREATE INDEX transactions_tenant_user ON transactions (tenant_id, customer_id);
CREATE UNIQUE INDEX transactions_tenant_key ON transactions (tenant_id, transaction_id);

CREATE TABLE point_transfers (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  transfer_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  type TEXT NOT NULL,
  points INTEGER NOT NULL,
  source TEXT,
  reference_id TEXT,
  expires_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX point_transfers_tenant_time ON point_transfers (tenant_id, created_at, row_id);
CREATE INDEX point_transfers_tenant_user ON point_transfers (tenant_id, customer_id);

CREATE TABLE rewards (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  reward_id TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT,
  points_cost INTEGER,
  status TEXT,
  stock INTEGER,
  starts_at TEXT,
  ends_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX rewards_tenant_time ON rewards (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX rewards_tenant_key ON rewards (tenant_id, reward_id);

CREATE TABLE reward_redemptions (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  redemption_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  reward_id TEXT NOT NULL,
  points_spent INTEGER,
  status TEXT,
  store_code TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX reward_redemptions_tenant_time ON reward_redemptions (tenant_id, created_at, row_id);
CREATE INDEX reward_redemptions_tenant_user ON reward_redemptions (tenant_id, customer_id);

CREATE TABLE tiers (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  tier_id TEXT NOT NULL,
  name TEXT NOT NULL,
  rank INTEGER,
  threshold_points INTEGER,
  description TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX tiers_tenant_time ON tiers (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX tiers_tenant_key ON tiers (tenant_id, tier_id);

CREATE TABLE achievements (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  achievement_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  points INTEGER,
  status TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX achievements_tenant_time ON achievements (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX achievements_tenant_key ON achievements (tenant_id, achievement_id);

CREATE TABLE achievement_usages (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  usage_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  achievement_id TEXT NOT NULL,
  progress REAL,
  created_at TEXT NOT NULL
);
CREATE INDEX achievement_usages_tenant_time ON achievement_usages (tenant_id, created_at, row_id);
CREATE INDEX achievement_usages_tenant_user ON achievement_usages (tenant_id, customer_id);

CREATE TABLE campaigns (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  campaign_code TEXT NOT NULL,
  campaign_name TEXT NOT NULL,
  campaign_start TEXT,
  campaign_end TEXT,
  status TEXT,
  type TEXT
);
CREATE INDEX campaigns_tenant_time ON campaigns (tenant_id, campaign_start, row_id);
CREATE UNIQUE INDEX campaigns_tenant_key ON campaigns (tenant_id, campaign_code);

CREATE TABLE campaign_executions (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  campaign_code TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  effect TEXT,
  value REAL,
  executed_at TEXT NOT NULL
);
CREATE INDEX campaign_executions_tenant_time ON campaign_executions (tenant_id, executed_at, row_id);
CREATE INDEX campaign_executions_tenant_user ON campaign_executions (tenant_id, customer_id);

CREATE TABLE custom_events (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  action TEXT NOT NULL,
  properties TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX custom_events_tenant_time ON custom_events (tenant_id, created_at, row_id);
CREATE INDEX custom_events_tenant_user ON custom_events (tenant_id, customer_id);

CREATE TABLE stores (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  store_code TEXT NOT NULL,
  name TEXT NOT NULL,
  country TEXT,
  city TEXT,
  status TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT
);
CREATE INDEX stores_tenant_time ON stores (tenant_id, updated_at, row_id);
CREATE UNIQUE INDEX stores_tenant_key ON stores (tenant_id, store_code);

CREATE TABLE coupons (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  coupon_code TEXT NOT NULL,
  user_id TEXT,
  coupon_name TEXT,
  received_date TEXT,
  redeemed_at TEXT,
  expires_at TEXT
);
CREATE INDEX coupons_tenant_time ON coupons (tenant_id, received_date, row_id);
CREATE INDEX coupons_tenant_user ON coupons (tenant_id, user_id);
CREATE UNIQUE INDEX coupons_tenant_key ON coupons (tenant_id, coupon_code);

CREATE TABLE games (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  stackinstanceid TEXT NOT NULL,
  stackid TEXT NOT NULL,
  game_name TEXT,
  game_type TEXT
);
CREATE INDEX games_tenant_time ON games (tenant_id, ingested_at, row_id);
CREATE UNIQUE INDEX games_tenant_key ON games (tenant_id, stackinstanceid);

CREATE TABLE participations (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  stackinstanceid TEXT NOT NULL,
  stackid TEXT,
  value INTEGER,
  has_won INTEGER,
  has_completed INTEGER,
  participation_date TEXT NOT NULL
);
CREATE INDEX participations_tenant_time ON participations (tenant_id, participation_date, row_id);
CREATE INDEX participations_tenant_user ON participations (tenant_id, user_id);

CREATE TABLE prizes (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  prizeid TEXT NOT NULL,
  game_id TEXT,
  prize_name TEXT NOT NULL,
  prize_type TEXT
);
CREATE INDEX prizes_tenant_time ON prizes (tenant_id, ingested_at, row_id);
CREATE UNIQUE INDEX prizes_tenant_key ON prizes (tenant_id, prizeid);

CREATE TABLE prize_awards (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  game_id TEXT,
  game_name TEXT,
  prizeid TEXT NOT NULL,
  awarded_at TEXT NOT NULL,
  claimed_date TEXT
);
CREATE INDEX prize_awards_tenant_time ON prize_awards (tenant_id, awarded_at, row_id);
CREATE INDEX prize_awards_tenant_user ON prize_awards (tenant_id, user_id);

CREATE TABLE user_connections (
  row_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  ingested_at INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  provider TEXT,
  connected_at TEXT
);
CREATE INDEX user_connections_tenant_time ON user_connections (tenant_id, ingested_at, row_id);
CREATE INDEX user_connections_tenant_user ON user_connections (tenant_id, user_id);
CREATE UNIQUE INDEX user_connections_tenant_key ON user_connections (tenant_id, user_id, client_id);
