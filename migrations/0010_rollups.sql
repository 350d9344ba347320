-- Continuous rollups of readings: per series, 1-minute and 1-hour buckets
-- holding count, sum, min, max, first and last (value and ts). They hold
-- exactly the raw rows with ts below the watermark in rollup_state: the
-- storage writer merges each newer stretch of raw rows into them as the
-- watermark advances, and merges a late row (ts below the watermark) in the
-- same transaction that stores it. Every field merges exactly (counts and
-- sums add, min/max compare, first/last keep the earliest/latest ts), so the
-- order in which rows arrive does not matter. Like readings_raw they carry
-- series ids and are read through `series` (the tenant wall).

CREATE TABLE rollup_1m (
  series_id integer NOT NULL,
  bucket    timestamptz NOT NULL,
  count     bigint NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  first_ts  timestamptz NOT NULL,
  first     double precision NOT NULL,
  last_ts   timestamptz NOT NULL,
  last      double precision NOT NULL,
  PRIMARY KEY (series_id, bucket)
);

CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);

CREATE TABLE rollup_state (
  id        integer PRIMARY KEY CHECK (id = 1),
  watermark timestamptz NOT NULL
);

-- For Grafana, psql and other outside readers, like `readings`.
CREATE VIEW readings_1m WITH (security_invoker = true) AS
  SELECT s.tenant_id, s.device_id, s.metric, r.bucket AS time, r.count, r.sum, r.min, r.max,
         r.sum / r.count AS avg, r.first, r.last
  FROM rollup_1m r JOIN series s ON s.id = r.series_id;
CREATE VIEW readings_1h WITH (security_invoker = true) AS
  SELECT s.tenant_id, s.device_id, s.metric, r.bucket AS time, r.count, r.sum, r.min, r.max,
         r.sum / r.count AS avg, r.first, r.last
  FROM rollup_1h r JOIN series s ON s.id = r.series_id;

-- The writer's refresh reads each new stretch of raw rows by ts: a BRIN
-- index finds it without a b-tree's cost on every COPY.
CREATE INDEX readings_raw_ts_brin ON readings_raw USING brin (ts);
