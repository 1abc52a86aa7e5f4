-- No query reads idempotency records by age (a write looks its key up,
-- export reads them in key order): the index only cost every write.
DROP INDEX IF EXISTS idempotency_created;
