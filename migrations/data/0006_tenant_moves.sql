-- Tenant moves (src/db/shards/moves.ts, docs/architecture.md "Shards"): the fence a shard enforces
-- on a tenant being moved off it, the log of its changed groups, the copy's marks on the
-- destination, and the triggers of every tenant table. Generated: npm run gen:data-ddl -- fences
CREATE TABLE tenant_fences (
  tenant_id TEXT PRIMARY KEY,
  mode TEXT NOT NULL CHECK (mode IN ('track', 'freeze', 'moved', 'sweep')),
  move_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenant_move_log (
  tenant_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  grp TEXT NOT NULL,
  token INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, tbl, grp)
) WITHOUT ROWID;

CREATE TABLE tenant_move_marks (
  tenant_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  cursor TEXT NOT NULL,
  PRIMARY KEY (tenant_id, tbl)
) WITHOUT ROWID;

-- A write that may touch no row (deleting a user's data) inserts here first: refused like the
-- others while the tenant is fenced, and otherwise never stored (raise(IGNORE) skips the row).
CREATE TABLE tenant_fence_probe (tenant_id TEXT NOT NULL);

CREATE TRIGGER tenant_fence_probe_insert BEFORE INSERT ON tenant_fence_probe
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
  SELECT raise(IGNORE);
END;

CREATE TRIGGER actions_fence_insert AFTER INSERT ON actions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER actions_fence_update BEFORE UPDATE ON actions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'actions' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'actions', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER actions_fence_delete BEFORE DELETE ON actions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'actions' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'actions', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER logins_fence_insert AFTER INSERT ON logins WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER logins_fence_update BEFORE UPDATE ON logins WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'logins' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'logins', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER logins_fence_delete BEFORE DELETE ON logins WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'logins' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'logins', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER purchases_fence_insert AFTER INSERT ON purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER purchases_fence_update BEFORE UPDATE ON purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'purchases' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'purchases', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER purchases_fence_delete BEFORE DELETE ON purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'purchases' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'purchases', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER virtual_purchases_fence_insert AFTER INSERT ON virtual_purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER virtual_purchases_fence_update BEFORE UPDATE ON virtual_purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'virtual_purchases' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'virtual_purchases', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER virtual_purchases_fence_delete BEFORE DELETE ON virtual_purchases WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'virtual_purchases' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'virtual_purchases', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER level_ups_fence_insert AFTER INSERT ON level_ups WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER level_ups_fence_update BEFORE UPDATE ON level_ups WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'level_ups' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'level_ups', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER level_ups_fence_delete BEFORE DELETE ON level_ups WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'level_ups' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'level_ups', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER items_fence_insert AFTER INSERT ON items WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER items_fence_update BEFORE UPDATE ON items WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'items' AND grp = coalesce(OLD.item_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'items', coalesce(OLD.item_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER items_fence_delete BEFORE DELETE ON items WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'items' AND grp = coalesce(OLD.item_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'items', coalesce(OLD.item_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER social_dynamics_fence_insert AFTER INSERT ON social_dynamics WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER social_dynamics_fence_update BEFORE UPDATE ON social_dynamics WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'social_dynamics' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'social_dynamics', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER social_dynamics_fence_delete BEFORE DELETE ON social_dynamics WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'social_dynamics' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'social_dynamics', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER kpis_fence_insert AFTER INSERT ON kpis WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER kpis_fence_update BEFORE UPDATE ON kpis WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'kpis' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'kpis', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER kpis_fence_delete BEFORE DELETE ON kpis WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'kpis' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'kpis', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER survey_responses_fence_insert AFTER INSERT ON survey_responses WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER survey_responses_fence_update BEFORE UPDATE ON survey_responses WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'survey_responses' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'survey_responses', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER survey_responses_fence_delete BEFORE DELETE ON survey_responses WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'survey_responses' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'survey_responses', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER members_fence_insert AFTER INSERT ON members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER members_fence_update BEFORE UPDATE ON members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'members' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'members', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER members_fence_delete BEFORE DELETE ON members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'members' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'members', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER transactions_fence_insert AFTER INSERT ON transactions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER transactions_fence_update BEFORE UPDATE ON transactions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'transactions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'transactions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER transactions_fence_delete BEFORE DELETE ON transactions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'transactions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'transactions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER point_transfers_fence_insert AFTER INSERT ON point_transfers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER point_transfers_fence_update BEFORE UPDATE ON point_transfers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'point_transfers' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'point_transfers', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER point_transfers_fence_delete BEFORE DELETE ON point_transfers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'point_transfers' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'point_transfers', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER rewards_fence_insert AFTER INSERT ON rewards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER rewards_fence_update BEFORE UPDATE ON rewards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'rewards' AND grp = coalesce(OLD.reward_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'rewards', coalesce(OLD.reward_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER rewards_fence_delete BEFORE DELETE ON rewards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'rewards' AND grp = coalesce(OLD.reward_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'rewards', coalesce(OLD.reward_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER reward_redemptions_fence_insert AFTER INSERT ON reward_redemptions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER reward_redemptions_fence_update BEFORE UPDATE ON reward_redemptions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'reward_redemptions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'reward_redemptions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER reward_redemptions_fence_delete BEFORE DELETE ON reward_redemptions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'reward_redemptions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'reward_redemptions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER tiers_fence_insert AFTER INSERT ON tiers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER tiers_fence_update BEFORE UPDATE ON tiers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'tiers' AND grp = coalesce(OLD.tier_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'tiers', coalesce(OLD.tier_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER tiers_fence_delete BEFORE DELETE ON tiers WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'tiers' AND grp = coalesce(OLD.tier_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'tiers', coalesce(OLD.tier_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER achievements_fence_insert AFTER INSERT ON achievements WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER achievements_fence_update BEFORE UPDATE ON achievements WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'achievements' AND grp = coalesce(OLD.achievement_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'achievements', coalesce(OLD.achievement_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER achievements_fence_delete BEFORE DELETE ON achievements WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'achievements' AND grp = coalesce(OLD.achievement_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'achievements', coalesce(OLD.achievement_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER achievement_usages_fence_insert AFTER INSERT ON achievement_usages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER achievement_usages_fence_update BEFORE UPDATE ON achievement_usages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'achievement_usages' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'achievement_usages', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER achievement_usages_fence_delete BEFORE DELETE ON achievement_usages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'achievement_usages' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'achievement_usages', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER campaigns_fence_insert AFTER INSERT ON campaigns WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER campaigns_fence_update BEFORE UPDATE ON campaigns WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'campaigns' AND grp = coalesce(OLD.campaign_code, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'campaigns', coalesce(OLD.campaign_code, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER campaigns_fence_delete BEFORE DELETE ON campaigns WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'campaigns' AND grp = coalesce(OLD.campaign_code, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'campaigns', coalesce(OLD.campaign_code, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER campaign_executions_fence_insert AFTER INSERT ON campaign_executions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER campaign_executions_fence_update BEFORE UPDATE ON campaign_executions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'campaign_executions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'campaign_executions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER campaign_executions_fence_delete BEFORE DELETE ON campaign_executions WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'campaign_executions' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'campaign_executions', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER custom_events_fence_insert AFTER INSERT ON custom_events WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER custom_events_fence_update BEFORE UPDATE ON custom_events WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'custom_events' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'custom_events', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER custom_events_fence_delete BEFORE DELETE ON custom_events WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'custom_events' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'custom_events', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER stores_fence_insert AFTER INSERT ON stores WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER stores_fence_update BEFORE UPDATE ON stores WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'stores' AND grp = coalesce(OLD.store_code, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'stores', coalesce(OLD.store_code, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER stores_fence_delete BEFORE DELETE ON stores WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'stores' AND grp = coalesce(OLD.store_code, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'stores', coalesce(OLD.store_code, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER coupons_fence_insert AFTER INSERT ON coupons WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER coupons_fence_update BEFORE UPDATE ON coupons WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'coupons' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'coupons', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER coupons_fence_delete BEFORE DELETE ON coupons WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'coupons' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'coupons', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER games_fence_insert AFTER INSERT ON games WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER games_fence_update BEFORE UPDATE ON games WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'games' AND grp = coalesce(OLD.stackinstanceid, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'games', coalesce(OLD.stackinstanceid, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER games_fence_delete BEFORE DELETE ON games WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'games' AND grp = coalesce(OLD.stackinstanceid, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'games', coalesce(OLD.stackinstanceid, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER participations_fence_insert AFTER INSERT ON participations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER participations_fence_update BEFORE UPDATE ON participations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'participations' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'participations', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER participations_fence_delete BEFORE DELETE ON participations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'participations' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'participations', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER prizes_fence_insert AFTER INSERT ON prizes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER prizes_fence_update BEFORE UPDATE ON prizes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'prizes' AND grp = coalesce(OLD.prizeid, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'prizes', coalesce(OLD.prizeid, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER prizes_fence_delete BEFORE DELETE ON prizes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'prizes' AND grp = coalesce(OLD.prizeid, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'prizes', coalesce(OLD.prizeid, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER prize_awards_fence_insert AFTER INSERT ON prize_awards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER prize_awards_fence_update BEFORE UPDATE ON prize_awards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'prize_awards' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'prize_awards', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER prize_awards_fence_delete BEFORE DELETE ON prize_awards WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'prize_awards' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'prize_awards', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER user_connections_fence_insert AFTER INSERT ON user_connections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER user_connections_fence_update BEFORE UPDATE ON user_connections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'user_connections' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'user_connections', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER user_connections_fence_delete BEFORE DELETE ON user_connections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'user_connections' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'user_connections', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER products_fence_insert AFTER INSERT ON products WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER products_fence_update BEFORE UPDATE ON products WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'products' AND grp = coalesce(OLD.product_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'products', coalesce(OLD.product_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER products_fence_delete BEFORE DELETE ON products WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'products' AND grp = coalesce(OLD.product_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'products', coalesce(OLD.product_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER coupon_pools_fence_insert AFTER INSERT ON coupon_pools WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER coupon_pools_fence_update BEFORE UPDATE ON coupon_pools WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'coupon_pools' AND grp = coalesce(OLD.pool_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'coupon_pools', coalesce(OLD.pool_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER coupon_pools_fence_delete BEFORE DELETE ON coupon_pools WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'coupon_pools' AND grp = coalesce(OLD.pool_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'coupon_pools', coalesce(OLD.pool_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER challenges_fence_insert AFTER INSERT ON challenges WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER challenges_fence_update BEFORE UPDATE ON challenges WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'challenges' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'challenges', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER challenges_fence_delete BEFORE DELETE ON challenges WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'challenges' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'challenges', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER changes_fence_insert AFTER INSERT ON changes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER changes_fence_update BEFORE UPDATE ON changes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'changes' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'changes', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER changes_fence_delete BEFORE DELETE ON changes WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'changes' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'changes', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER content_approvals_fence_insert AFTER INSERT ON content_approvals WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER content_approvals_fence_update BEFORE UPDATE ON content_approvals WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'content_approvals' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'content_approvals', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER content_approvals_fence_delete BEFORE DELETE ON content_approvals WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'content_approvals' AND grp = coalesce(OLD.customer_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'content_approvals', coalesce(OLD.customer_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER webhook_logs_fence_insert AFTER INSERT ON webhook_logs WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER webhook_logs_fence_update BEFORE UPDATE ON webhook_logs WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'webhook_logs' AND grp = coalesce(OLD.created_at, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'webhook_logs', coalesce(OLD.created_at, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER webhook_logs_fence_delete BEFORE DELETE ON webhook_logs WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'webhook_logs' AND grp = coalesce(OLD.created_at, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'webhook_logs', coalesce(OLD.created_at, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER user_traits_fence_insert AFTER INSERT ON user_traits WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER user_traits_fence_update BEFORE UPDATE ON user_traits WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'user_traits' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'user_traits', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER user_traits_fence_delete BEFORE DELETE ON user_traits WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'user_traits' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'user_traits', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER persona_members_fence_insert AFTER INSERT ON persona_members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
END;

CREATE TRIGGER persona_members_fence_update BEFORE UPDATE ON persona_members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'persona_members' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'persona_members', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER persona_members_fence_delete BEFORE DELETE ON persona_members WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'persona_members' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'persona_members', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER idempotency_keys_fence_insert AFTER INSERT ON idempotency_keys WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = NEW.tenant_id AND tbl = 'idempotency_keys' AND grp = coalesce(NEW.key, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT NEW.tenant_id, 'idempotency_keys', coalesce(NEW.key, ''), random() FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode = 'track';
END;

CREATE TRIGGER idempotency_keys_fence_update BEFORE UPDATE ON idempotency_keys WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'idempotency_keys' AND grp = coalesce(OLD.key, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'idempotency_keys', coalesce(OLD.key, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER idempotency_keys_fence_delete BEFORE DELETE ON idempotency_keys WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'idempotency_keys' AND grp = coalesce(OLD.key, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'idempotency_keys', coalesce(OLD.key, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER segment_vectors_fence_insert AFTER INSERT ON segment_vectors WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = NEW.tenant_id AND tbl = 'segment_vectors' AND grp = coalesce(NEW.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT NEW.tenant_id, 'segment_vectors', coalesce(NEW.user_id, ''), random() FROM tenant_fences WHERE tenant_id = NEW.tenant_id AND mode = 'track';
END;

CREATE TRIGGER segment_vectors_fence_update BEFORE UPDATE ON segment_vectors WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'segment_vectors' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'segment_vectors', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;

CREATE TRIGGER segment_vectors_fence_delete BEFORE DELETE ON segment_vectors WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id)
BEGIN
  SELECT raise(ABORT, 'ferry:tenant_fenced') FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode IN ('freeze', 'moved');
  DELETE FROM tenant_move_log WHERE tenant_id = OLD.tenant_id AND tbl = 'segment_vectors' AND grp = coalesce(OLD.user_id, '');
  INSERT INTO tenant_move_log (tenant_id, tbl, grp, token)
    SELECT OLD.tenant_id, 'segment_vectors', coalesce(OLD.user_id, ''), random() FROM tenant_fences WHERE tenant_id = OLD.tenant_id AND mode = 'track';
END;
