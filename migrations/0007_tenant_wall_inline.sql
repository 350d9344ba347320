-- 0005's policy function was not inlined by the planner (its sub-SELECT on
-- pg_class forbids that), so every row a query touched paid a function call:
-- ~5 µs per row, and the storage writer updates every device's state each
-- second. Same rules, now inlinable: the common cases ('*', a tenant id) are
-- a current_setting() per row, and the owner check, in its own function, is
-- reached only by sessions that name no tenant.
CREATE FUNCTION peregrine_owner_session() RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(current_user,
                       (SELECT relowner FROM pg_class WHERE oid = 'tenants'::regclass),
                       'USAGE')
  $$;

CREATE OR REPLACE FUNCTION peregrine_tenant_visible(row_tenant bigint) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE coalesce(current_setting('peregrine.tenant', true), '')
             WHEN '*' THEN true
             WHEN '' THEN peregrine_owner_session()
             ELSE row_tenant = current_setting('peregrine.tenant', true)::bigint
           END
  $$;
