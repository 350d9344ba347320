-- The tenant wall, fail-closed. 0003 let a session that never named a tenant
-- see every row; now only the schema owner may (migrations, psql, Grafana,
-- pg_dump --enable-row-security). Every other role — above all the role the
-- server runs as (PEREGRINE_PG_APP_ROLE, see include/peregrine/storage/pg.hpp)
-- — sees and writes only the tenant in `peregrine.tenant`, every tenant for
-- '*', and nothing while it is unset. FORCE makes the owner go through the
-- policies too, so an owner session that names a tenant is held to it.
CREATE OR REPLACE FUNCTION peregrine_tenant_visible(row_tenant bigint) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE coalesce(current_setting('peregrine.tenant', true), '')
             WHEN '*' THEN true
             WHEN '' THEN pg_has_role(current_user,
                                      (SELECT relowner FROM pg_class WHERE oid = 'tenants'::regclass),
                                      'USAGE')
             ELSE row_tenant = current_setting('peregrine.tenant', true)::bigint
           END
  $$;

-- devices, series, users and audit_log already use the function (0003).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['rules', 'alerts'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (peregrine_tenant_visible(tenant_id))'
                   ' WITH CHECK (peregrine_tenant_visible(tenant_id))', t);
  END LOOP;
END $$;

-- A tenant sees its own row only.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (peregrine_tenant_visible(id)) WITH CHECK (peregrine_tenant_visible(id));

-- Rows without a tenant_id of their own stand behind their parent's wall:
-- the subquery is itself filtered by the parent's policy.
ALTER TABLE alert_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alert_events
  USING (EXISTS (SELECT 1 FROM alerts a WHERE a.id = alert_id))
  WITH CHECK (EXISTS (SELECT 1 FROM alerts a WHERE a.id = alert_id));

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens
  USING (EXISTS (SELECT 1 FROM users u WHERE u.id = user_id))
  WITH CHECK (EXISTS (SELECT 1 FROM users u WHERE u.id = user_id));

-- readings_raw carries series ids, not tenants (COPY FROM cannot write a
-- table with row-level security). Readers reach tenants through `series`:
-- the contract's view checks the caller's rights, not its owner's, so the
-- series policy filters it.
ALTER VIEW readings SET (security_invoker = true);

-- Day partitions are DDL on a table the server's role does not own: these
-- two functions run as the owner and do only this. EXECUTE is granted to the
-- server's role at start (storage::prepare_app_role), not to PUBLIC.
CREATE FUNCTION peregrine_create_day_partition(day date) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF readings_raw FOR VALUES FROM (%L) TO (%L)',
                 'readings_raw_p' || to_char(day, 'YYYYMMDD'),
                 to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
END $$;

-- Retention: drops whole day partitions older than `day`; returns how many.
CREATE FUNCTION peregrine_drop_day_partitions_before(day date) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text;
  dropped integer := 0;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'readings_raw'::regclass
      AND c.relname ~ '^readings_raw_p[0-9]{8}$'
      AND to_date(substr(c.relname, 15), 'YYYYMMDD') < day
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END $$;
REVOKE EXECUTE ON FUNCTION peregrine_create_day_partition(date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION peregrine_drop_day_partitions_before(date) FROM PUBLIC;
