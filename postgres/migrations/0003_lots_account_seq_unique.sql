-- A lot's number is unique within its account, as in the SQLite store:
-- the database refuses a second lot with a number already given.
DROP INDEX lots_account;
CREATE UNIQUE INDEX lots_account_seq ON lots (brand_id, customer_id, seq);
