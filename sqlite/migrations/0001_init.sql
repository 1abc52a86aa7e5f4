-- The initial schema. Times are INTEGER unix microseconds, 0 for "none".
-- Lists and settings are JSON text. Every table is STRICT so a value of
-- the wrong type is refused rather than stored.

CREATE TABLE apps (
    app_key    TEXT    NOT NULL PRIMARY KEY,
    secret     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    channels   TEXT    NOT NULL, -- JSON array
    brands     TEXT    NOT NULL, -- JSON array
    rate_limit REAL    NOT NULL CHECK (rate_limit >= 0)
) STRICT;

CREATE TABLE brands (
    brand_id  TEXT NOT NULL PRIMARY KEY,
    name      TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    settings  TEXT NOT NULL -- JSON object
) STRICT;

CREATE TABLE brand_out_ids (
    channel  TEXT NOT NULL,
    out_id   TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    PRIMARY KEY (channel, out_id)
) STRICT;
CREATE INDEX brand_out_ids_brand ON brand_out_ids (brand_id);

CREATE TABLE shops (
    shop_id  TEXT NOT NULL PRIMARY KEY,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id),
    name     TEXT NOT NULL
) STRICT;
CREATE INDEX shops_brand ON shops (brand_id);

CREATE TABLE shop_out_ids (
    channel TEXT NOT NULL,
    out_id  TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (shop_id) ON DELETE CASCADE,
    PRIMARY KEY (channel, out_id)
) STRICT;
CREATE INDEX shop_out_ids_shop ON shop_out_ids (shop_id);

-- Mobile numbers are not unique: a lookup by mobile answers the earliest
-- customer (by created_at, then insertion order).
CREATE TABLE customers (
    customer_id   TEXT    NOT NULL PRIMARY KEY,
    brand_id      TEXT    NOT NULL REFERENCES brands (brand_id),
    mobile        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    level_id      TEXT    NOT NULL,
    customer_type INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    outer_type    TEXT    NOT NULL,
    outer_id      TEXT    NOT NULL,
    gender        TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    birthday      TEXT    NOT NULL,
    address       TEXT    NOT NULL,
    remark        TEXT    NOT NULL,
    shop_id       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX customers_mobile ON customers (brand_id, mobile, created_at);
CREATE INDEX customers_outer ON customers (brand_id, outer_type, outer_id, created_at);

-- Every rule change is a new version; the rule in force is the highest.
CREATE TABLE rules (
    brand_id   TEXT    NOT NULL REFERENCES brands (brand_id),
    version    INTEGER NOT NULL,
    rule_id    TEXT    NOT NULL,
    body       TEXT    NOT NULL, -- JSON: name, clear, coupons, deduction, addition, authors
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (brand_id, version)
) STRICT;

CREATE TABLE accounts (
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
    PRIMARY KEY (brand_id, customer_id)
) STRICT;

CREATE TABLE lots (
    lot_id      TEXT    NOT NULL PRIMARY KEY,
    brand_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    granted     INTEGER NOT NULL,
    remaining   INTEGER NOT NULL,
    earned_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL, -- 0: never
    flow_id     TEXT    NOT NULL,
    out_biz_id  TEXT    NOT NULL,
    seq         INTEGER NOT NULL, -- numbered by the store, from 1 per account
    UNIQUE (brand_id, customer_id, seq),
    CHECK (0 <= remaining AND remaining <= granted)
) STRICT;
-- The expiry sweep looks only at lots still holding points that expire.
CREATE INDEX lots_due ON lots (expires_at) WHERE remaining > 0 AND expires_at > 0;

-- Flows are never updated nor deleted.
CREATE TABLE flows (
    flow_id          TEXT    NOT NULL PRIMARY KEY,
    brand_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
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
    UNIQUE (brand_id, customer_id, seq)
) STRICT;
CREATE INDEX flows_customer_time ON flows (brand_id, customer_id, created_at, seq);
CREATE INDEX flows_brand_time ON flows (brand_id, created_at, seq);
CREATE INDEX flows_out_biz ON flows (brand_id, out_biz_id);

CREATE TABLE allocations (
    flow_id     TEXT    NOT NULL REFERENCES flows (flow_id),
    lot_id      TEXT    NOT NULL REFERENCES lots (lot_id),
    brand_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    order_ref   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    seq         INTEGER NOT NULL, -- numbered by the store, from 1 per account
    UNIQUE (brand_id, customer_id, seq)
) STRICT;
CREATE INDEX allocations_order ON allocations (brand_id, customer_id, order_ref, seq);

CREATE TABLE orders (
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
) STRICT;
CREATE INDEX orders_account ON orders (brand_id, customer_id, out_biz_id);

-- One row per refund: a second refund with the same reverse_order_id in a
-- brand cannot be written.
CREATE TABLE reversals (
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
) STRICT;

CREATE TABLE holds (
    brand_id       TEXT    NOT NULL,
    outer_order_id TEXT    NOT NULL,
    customer_id    TEXT    NOT NULL,
    amount         INTEGER NOT NULL CHECK (amount >= 0),
    remaining      INTEGER NOT NULL CHECK (remaining >= 0),
    verified       INTEGER NOT NULL CHECK (verified >= 0),
    status         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    flow_id        TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    PRIMARY KEY (brand_id, outer_order_id)
) STRICT;
CREATE INDEX holds_due ON holds (status, expires_at);
CREATE INDEX holds_account ON holds (brand_id, customer_id, outer_order_id);

CREATE TABLE idempotency (
    app_key     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    flow_id     TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_key, request_id)
) STRICT;
CREATE INDEX idempotency_created ON idempotency (created_at);
