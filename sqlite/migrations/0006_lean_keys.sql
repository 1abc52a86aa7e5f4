-- The lean layout: every ledger table's key leads with brand_id and is
-- the table itself (WITHOUT ROWID), so a row is one b-tree entry; only
-- the indexes a query uses are kept. What each remaining index serves is
-- named beside it. Nothing is lost: every row is copied as it is.

-- Idempotency records are keyed within their brand, like every ledger row
-- (a brand's rows are one shard's rows). A record's brand is its flow's,
-- or, for customer creation, its customer's.
CREATE TABLE idempotency_new (
    brand_id    TEXT    NOT NULL,
    app_key     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    flow_id     TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (brand_id, app_key, request_id)
) STRICT, WITHOUT ROWID;
INSERT INTO idempotency_new (brand_id, app_key, request_id, method, fingerprint, flow_id, result, created_at)
SELECT COALESCE((SELECT f.brand_id FROM flows f WHERE f.flow_id = i.flow_id AND i.flow_id <> ''),
                (SELECT c.brand_id FROM customers c WHERE c.customer_id = i.result), ''),
       app_key, request_id, method, fingerprint, flow_id, result, created_at
FROM idempotency i;
DROP TABLE idempotency;
ALTER TABLE idempotency_new RENAME TO idempotency;

-- Allocations are read by order (a refund's lots) and by account (verify,
-- export): the key serves both. The database still refuses an allocation
-- of a lot that does not exist; that its flow exists, which no unique key
-- of flows can now check, jifen verify checks.
CREATE TABLE allocations_new (
    brand_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    order_ref   TEXT    NOT NULL,
    seq         INTEGER NOT NULL, -- numbered by the store, from 1 per account
    flow_id     TEXT    NOT NULL,
    lot_id      TEXT    NOT NULL REFERENCES lots (lot_id),
    kind        TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    PRIMARY KEY (brand_id, customer_id, order_ref, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO allocations_new (brand_id, customer_id, order_ref, seq, flow_id, lot_id, kind, amount)
SELECT brand_id, customer_id, order_ref, seq, flow_id, lot_id, kind, amount FROM allocations;
DROP TABLE allocations;
ALTER TABLE allocations_new RENAME TO allocations;

-- Flows are kept by account in the order they were written: a member's
-- flows (querypointflow, the account's chain) are one range of the key.
CREATE TABLE flows_new (
    brand_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    flow_id          TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    delta_available  INTEGER NOT NULL,
    delta_frozen     INTEGER NOT NULL,
    delta_debt       INTEGER NOT NULL,
    remain_point     INTEGER NOT NULL,
    out_biz_id       TEXT    NOT NULL,
    reverse_order_id TEXT    NOT NULL,
    shop_id          TEXT    NOT NULL,
    shop_name        TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    app_key          TEXT    NOT NULL,
    request_id       TEXT    NOT NULL,
    operator_id      TEXT    NOT NULL,
    operator_name    TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    rule_version     INTEGER NOT NULL,
    policy           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL,
    PRIMARY KEY (brand_id, customer_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO flows_new (brand_id, customer_id, seq, flow_id, type, amount, delta_available, delta_frozen, delta_debt,
    remain_point, out_biz_id, reverse_order_id, shop_id, shop_name, channel, app_key, request_id, operator_id,
    operator_name, reason, rule_version, policy, created_at, prev_hash, hash)
SELECT brand_id, customer_id, seq, flow_id, type, amount, delta_available, delta_frozen, delta_debt,
    remain_point, out_biz_id, reverse_order_id, shop_id, shop_name, channel, app_key, request_id, operator_id,
    operator_name, reason, rule_version, policy, created_at, prev_hash, hash
FROM flows;
DROP TABLE flows;
ALTER TABLE flows_new RENAME TO flows;
-- A brand's flows by time: the admin API's and console's flow lists, the
-- daily totals.
CREATE INDEX flows_brand_time ON flows (brand_id, created_at);
-- An order's flows, whoever's they are (the order view; a decrease for an
-- outer order leaves no order row to find its customer by).
CREATE INDEX flows_out_biz ON flows (brand_id, out_biz_id);

-- Orders: the key finds every customer's position in an order (a
-- refund's lookup); orders_account an account's orders (verify, export).
CREATE TABLE orders_new (
    brand_id    TEXT    NOT NULL,
    out_biz_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    spent       INTEGER NOT NULL CHECK (spent >= 0),
    reversed    INTEGER NOT NULL CHECK (reversed >= 0),
    granted     INTEGER NOT NULL CHECK (granted >= 0),
    clawed_back INTEGER NOT NULL CHECK (clawed_back >= 0),
    version     INTEGER NOT NULL,
    PRIMARY KEY (brand_id, out_biz_id, customer_id),
    CHECK (reversed <= spent),
    CHECK (clawed_back <= granted)
) STRICT, WITHOUT ROWID;
INSERT INTO orders_new (brand_id, out_biz_id, customer_id, spent, reversed, granted, clawed_back, version)
SELECT brand_id, out_biz_id, customer_id, spent, reversed, granted, clawed_back, version FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_account ON orders (brand_id, customer_id, out_biz_id);

-- One row per refund, by its name: a second refund with the same
-- reverse_order_id in a brand cannot be written.
CREATE TABLE reversals_new (
    brand_id         TEXT    NOT NULL,
    reverse_order_id TEXT    NOT NULL,
    out_biz_id       TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    requested        INTEGER NOT NULL CHECK (requested >= 0),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    flow_id          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (brand_id, reverse_order_id)
) STRICT, WITHOUT ROWID;
INSERT INTO reversals_new (brand_id, reverse_order_id, out_biz_id, customer_id, type, requested, amount, flow_id, created_at)
SELECT brand_id, reverse_order_id, out_biz_id, customer_id, type, requested, amount, flow_id, created_at FROM reversals;
DROP TABLE reversals;
ALTER TABLE reversals_new RENAME TO reversals;

CREATE TABLE accounts_new (
    brand_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    available     INTEGER NOT NULL CHECK (available >= 0),
    frozen        INTEGER NOT NULL CHECK (frozen >= 0),
    debt          INTEGER NOT NULL CHECK (debt >= 0),
    total_earned  INTEGER NOT NULL,
    total_used    INTEGER NOT NULL,
    total_expired INTEGER NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    last_hash     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    lot_seq       INTEGER NOT NULL DEFAULT 0,
    alloc_seq     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (brand_id, customer_id)
) STRICT, WITHOUT ROWID;
INSERT INTO accounts_new (brand_id, customer_id, available, frozen, debt, total_earned, total_used, total_expired,
    seq, last_hash, version, lot_seq, alloc_seq)
SELECT brand_id, customer_id, available, frozen, debt, total_earned, total_used, total_expired,
    seq, last_hash, version, lot_seq, alloc_seq FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
