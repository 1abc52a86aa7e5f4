-- The lean layout: every ledger table's primary and unique keys lead with
-- brand_id (a brand's rows are one shard's rows: see docs/scaling.md), and
-- only the indexes a query uses are kept, each named with its query.
-- Nothing is lost: rows stay where they are; keys and indexes change.

-- Idempotency records are keyed within their brand. A record's brand is
-- its flow's, or, for customer creation, its customer's.
ALTER TABLE idempotency ADD COLUMN brand_id TEXT NOT NULL DEFAULT '';
UPDATE idempotency i SET brand_id = COALESCE(
    (SELECT f.brand_id FROM flows f WHERE f.flow_id = i.flow_id AND i.flow_id <> ''),
    (SELECT c.brand_id FROM customers c WHERE c.customer_id = i.result), '');
ALTER TABLE idempotency ALTER COLUMN brand_id DROP DEFAULT;
ALTER TABLE idempotency DROP CONSTRAINT idempotency_pkey;
ALTER TABLE idempotency ADD CONSTRAINT idempotency_pkey PRIMARY KEY (brand_id, app_key, request_id);

-- Allocations are read by order (a refund's lots) and by account (verify,
-- export): their key serves both. The database still refuses an
-- allocation of a lot that does not exist; that its flow exists, which no
-- unique key of flows can now check, jifen verify checks.
ALTER TABLE allocations DROP CONSTRAINT allocations_flow_id_fkey;
ALTER TABLE allocations DROP CONSTRAINT allocations_lot_id_fkey;
ALTER TABLE allocations DROP CONSTRAINT allocations_account_seq;
DROP INDEX allocations_order;
ALTER TABLE allocations ADD CONSTRAINT allocations_pkey PRIMARY KEY (brand_id, customer_id, order_ref, seq);

-- A lot is named within its brand.
ALTER TABLE lots DROP CONSTRAINT lots_pkey;
ALTER TABLE lots ADD CONSTRAINT lots_pkey PRIMARY KEY (brand_id, lot_id);
ALTER TABLE allocations ADD CONSTRAINT allocations_lot FOREIGN KEY (brand_id, lot_id) REFERENCES lots (brand_id, lot_id);

-- Flows are kept by account in the order they were written: a member's
-- flows (querypointflow, the account's chain, an order's flows among its
-- customers') are one range of the key.
ALTER TABLE flows DROP CONSTRAINT flows_pkey;
ALTER TABLE flows DROP CONSTRAINT flows_account_seq;
DROP INDEX flows_customer_time;
DROP INDEX flows_brand_time;
ALTER TABLE flows ADD CONSTRAINT flows_pkey PRIMARY KEY (brand_id, customer_id, seq);
-- A brand's flows by time: the admin API's and console's flow lists, the
-- daily totals.
CREATE INDEX flows_brand_time ON flows (brand_id, created_at);
-- flows_out_biz (brand_id, out_biz_id) stays: an order's flows, whoever's
-- they are (the order view; a decrease for an outer order leaves no order
-- row to find its customer by).
