-- No query reads idempotency records by age: a write looks its key up,
-- export reads them in key order. Rows of this rowid table are in the
-- order they were written, so a retention sweep can walk them from the
-- oldest without an index; the index only cost every write a b-tree.
DROP INDEX IF EXISTS idempotency_created;
