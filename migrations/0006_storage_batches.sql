-- Spilled records replayed by the storage writer, by the record's random id,
-- written in the same transaction as its rows: when that COMMIT's outcome is
-- lost with the connection (libpqxx's in_doubt_error), or the process dies
-- before the spill's progress is saved, the id says the record is written.
-- (Ordinary batches settle a lost COMMIT with txid_status() instead, writing
-- nothing.) Rows older than a day are deleted by the writer.
CREATE TABLE storage_batches (
  id bigint PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
);
