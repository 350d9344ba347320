-- Device configuration (docs/configuration.md): a JSON Schema per device
-- type, versioned; immutable configuration versions per device; and each
-- device's desired, published and applied version.
--
-- A device's desired version only grows. `published_version` is the newest
-- version the broker took as the retained `devices/{id}/config` message: the
-- server publishes again whatever is desired and not yet published (after a
-- crash between commit and publish, or a broker that was away). A device's
-- report moves `applied_version` up, never down, and only to a version that
-- was desired; a rejection is kept for the version it names.

CREATE TABLE device_type_schemas (
  tenant_id  bigint NOT NULL REFERENCES tenants (id),
  type       text NOT NULL CHECK (type ~ '^[A-Za-z0-9_.-]{1,64}$'),
  version    integer NOT NULL CHECK (version > 0),
  schema     jsonb NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, type, version)
);

CREATE TABLE device_configs (
  device_id      text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  version        integer NOT NULL CHECK (version > 0),
  tenant_id      bigint NOT NULL REFERENCES tenants (id),
  config         jsonb NOT NULL,
  schema_type    text NOT NULL DEFAULT '',  -- the device type whose schema checked it ('' : none)
  schema_version integer,                   -- and that schema's version (null: no schema)
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  job_id         bigint,                    -- the group push that wrote it, if any
  PRIMARY KEY (device_id, version)
);
CREATE INDEX device_configs_job_idx ON device_configs (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE device_config_state (
  device_id         text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  tenant_id         bigint NOT NULL REFERENCES tenants (id),
  desired_version   integer NOT NULL,
  published_version integer NOT NULL DEFAULT 0,
  applied_version   integer,
  applied_at        timestamptz,
  rejected_version  integer,
  rejected_error    text,
  reported_at       timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_config_unpublished_idx ON device_config_state (device_id)
  WHERE published_version < desired_version;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['device_type_schemas', 'device_configs', 'device_config_state'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (peregrine_tenant_visible(tenant_id))'
                   ' WITH CHECK (peregrine_tenant_visible(tenant_id))', t);
  END LOOP;
END $$;
