-- Row batches the storage writer committed, by a random id written in the
-- same transaction as the rows. When a COMMIT's outcome is lost with the
-- connection (libpqxx's in_doubt_error), the writer looks the id up after
-- reconnecting instead of writing those rows a second time. Rows older than
-- a day are deleted by the writer.
CREATE TABLE storage_batches (
  id bigint PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
);
