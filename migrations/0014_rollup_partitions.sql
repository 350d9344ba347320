-- Rollups are partitioned like raw readings, so retention drops whole
-- partitions instead of deleting rows: rollup_1m by UTC month
-- (rollup_1m_pYYYYMM), rollup_1h by UTC year (rollup_1h_pYYYY). A month of
-- minutes of 10,000 series is 432 M rows at most; a year of hours, 88 M.
--
-- Partitions are made by the same owner's function as raw day partitions:
-- making a day's partition also makes the rollup month and year it falls
-- in, so every path that can store a row (the writer's batches, its late
-- rows, a refresh of raw rows) finds its rollup partition already there.
-- There is no DEFAULT partition: a row outside every partition is an error,
-- never a row retention cannot drop.

DROP VIEW readings_1m;
DROP VIEW readings_1h;
ALTER TABLE rollup_1m RENAME TO rollup_1m_unpartitioned;
ALTER TABLE rollup_1h RENAME TO rollup_1h_unpartitioned;
ALTER INDEX rollup_1m_pkey RENAME TO rollup_1m_unpartitioned_pkey;
ALTER INDEX rollup_1h_pkey RENAME TO rollup_1h_unpartitioned_pkey;

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
) PARTITION BY RANGE (bucket);

CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL) PARTITION BY RANGE (bucket);

CREATE OR REPLACE FUNCTION peregrine_create_day_partition(day date) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  month date := date_trunc('month', day)::date;
  year  date := date_trunc('year', day)::date;
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF readings_raw FOR VALUES FROM (%L) TO (%L)',
                 'readings_raw_p' || to_char(day, 'YYYYMMDD'),
                 to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF rollup_1m FOR VALUES FROM (%L) TO (%L)',
                 'rollup_1m_p' || to_char(month, 'YYYYMM'),
                 to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF rollup_1h FOR VALUES FROM (%L) TO (%L)',
                 'rollup_1h_p' || to_char(year, 'YYYY'),
                 to_char(year, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(year + interval '1 year', 'YYYY-MM-DD') || ' 00:00:00+00');
END $$;

-- Rollup retention: drops the partitions of `level` ('1m' or '1h') that end
-- at or before `before` (a partition is dropped only when all of it is past
-- retention, so a level keeps up to one partition more); returns how many.
CREATE FUNCTION peregrine_drop_rollup_partitions_before(level text, before timestamptz) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text;
  dropped integer := 0;
BEGIN
  IF level NOT IN ('1m', '1h') THEN
    RAISE EXCEPTION 'no rollup level %', level;
  END IF;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = ('rollup_' || level)::regclass
      AND CASE level
            WHEN '1m' THEN c.relname ~ '^rollup_1m_p[0-9]{6}$'
                      AND to_date(substr(c.relname, 12), 'YYYYMM') + interval '1 month' <= before
            ELSE c.relname ~ '^rollup_1h_p[0-9]{4}$'
                      AND to_date(substr(c.relname, 12), 'YYYY') + interval '1 year' <= before
          END
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END $$;
REVOKE EXECUTE ON FUNCTION peregrine_drop_rollup_partitions_before(text, timestamptz) FROM PUBLIC;

-- Partitions for every day that has raw rows' partition, and for the rows
-- already rolled up; then the rows move over.
SELECT peregrine_create_day_partition(to_date(substr(c.relname, 15), 'YYYYMMDD'))
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'readings_raw'::regclass AND c.relname ~ '^readings_raw_p[0-9]{8}$';
SELECT peregrine_create_day_partition(d)
  FROM (SELECT DISTINCT date_trunc('month', bucket, 'UTC')::date AS d FROM rollup_1m_unpartitioned
        UNION SELECT DISTINCT date_trunc('year', bucket, 'UTC')::date FROM rollup_1h_unpartitioned) m;
INSERT INTO rollup_1m SELECT * FROM rollup_1m_unpartitioned;
INSERT INTO rollup_1h SELECT * FROM rollup_1h_unpartitioned;
DROP TABLE rollup_1m_unpartitioned;
DROP TABLE rollup_1h_unpartitioned;

CREATE VIEW readings_1m WITH (security_invoker = true) AS
  SELECT s.tenant_id, s.device_id, s.metric, r.bucket AS time, r.count, r.sum, r.min, r.max,
         r.sum / r.count AS avg, r.first, r.last
  FROM rollup_1m r JOIN series s ON s.id = r.series_id;
CREATE VIEW readings_1h WITH (security_invoker = true) AS
  SELECT s.tenant_id, s.device_id, s.metric, r.bucket AS time, r.count, r.sum, r.min, r.max,
         r.sum / r.count AS avg, r.first, r.last
  FROM rollup_1h r JOIN series s ON s.id = r.series_id;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'peregrine_reader') THEN
    GRANT SELECT ON readings_1m, readings_1h, rollup_1m, rollup_1h TO peregrine_reader;
  END IF;
END $$;
