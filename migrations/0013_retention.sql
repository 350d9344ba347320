-- A tenant's own retention, in whole UTC days per level, shorter than the
-- server's (storage/rollups.hpp): {"raw_days", "rollup_1m_days",
-- "rollup_1h_days"}, each optional. Empty: the server's retention.
ALTER TABLE tenants ADD COLUMN retention jsonb NOT NULL DEFAULT '{}'::jsonb
  CHECK (jsonb_typeof(retention) = 'object');
