-- A read-only role for Grafana, psql and reports: SELECT on the documented
-- views (readings, readings_1m, readings_1h, with `time` columns on the
-- rollups) and the tables they and dashboards read, nothing else; every
-- transaction read-only. The tenant wall (0005) holds for it like for the
-- server's role: a session sees the tenants `peregrine.tenant` names ('*'
-- for all, a tenant id for one) and nothing while it is unset. A login that
-- may run its own SQL can change that setting, so this role serves the
-- operator's own Grafana, not a tenant's (docs/grafana/README.md).
--
-- Roles belong to the cluster: the role is created when this login may
-- create roles, else a DBA creates it first (CREATE ROLE peregrine_reader
-- NOLOGIN) and the grants below still apply.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'peregrine_reader') THEN
    BEGIN
      CREATE ROLE peregrine_reader NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'peregrine_reader not created (this login may not create roles): a DBA creates it, then re-grants (docs/grafana/README.md)';
      RETURN;
    END;
  END IF;
  GRANT SELECT ON readings, readings_1m, readings_1h, readings_raw, rollup_1m, rollup_1h, rollup_state,
                  series, devices, device_groups, device_group_members, alerts, tenants
    TO peregrine_reader;
  BEGIN
    ALTER ROLE peregrine_reader SET default_transaction_read_only = on;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'peregrine_reader: default_transaction_read_only not set (not the role''s owner)';
  END;
END $$;
