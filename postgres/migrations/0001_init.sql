-- The initial schema: the same tables, columns and constraints as the
-- SQLite store's, in PostgreSQL's dialect. Times are BIGINT unix
-- microseconds, 0 for "none". Lists and settings are JSONB.
--
-- Written to run unchanged on PostgreSQL-compatible distributed databases:
-- ids are strings made by the service (no sequences), constraints are
-- named explicitly (the store recognises them by name), and there are no
-- triggers, functions or extensions.

CREATE TABLE apps (
    app_key    TEXT             NOT NULL,
    secret     TEXT             NOT NULL,
    name       TEXT             NOT NULL,
    active     BOOLEAN          NOT NULL,
    channels   JSONB            NOT NULL, -- JSON array
    brands     JSONB            NOT NULL, -- JSON array
    rate_limit DOUBLE PRECISION NOT NULL CHECK (rate_limit >= 0),
    CONSTRAINT apps_pkey PRIMARY KEY (app_key)
);

CREATE TABLE brands (
    brand_id  TEXT  NOT NULL,
    name      TEXT  NOT NULL,
    time_zone TEXT  NOT NULL,
    settings  JSONB NOT NULL, -- JSON object
    CONSTRAINT brands_pkey PRIMARY KEY (brand_id)
);

CREATE TABLE brand_out_ids (
    channel  TEXT NOT NULL,
    out_id   TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    CONSTRAINT brand_out_ids_pkey PRIMARY KEY (channel, out_id)
);
CREATE INDEX brand_out_ids_brand ON brand_out_ids (brand_id);

CREATE TABLE shops (
    shop_id  TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id),
    name     TEXT NOT NULL,
    CONSTRAINT shops_pkey PRIMARY KEY (shop_id)
);
CREATE INDEX shops_brand ON shops (brand_id);

CREATE TABLE shop_out_ids (
    channel TEXT NOT NULL,
    out_id  TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (shop_id) ON DELETE CASCADE,
    CONSTRAINT shop_out_ids_pkey PRIMARY KEY (channel, out_id)
);
CREATE INDEX shop_out_ids_shop ON shop_out_ids (shop_id);

-- Mobile numbers are not unique: a lookup by mobile answers the earliest
-- customer (by created_at, then id).
CREATE TABLE customers (
    customer_id   TEXT    NOT NULL,
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
    created_at    BIGINT  NOT NULL,
    CONSTRAINT customers_pkey PRIMARY KEY (customer_id)
);
CREATE INDEX customers_mobile ON customers (brand_id, mobile, created_at);
CREATE INDEX customers_outer ON customers (brand_id, outer_type, outer_id, created_at);

-- Every rule change is a new version; the rule in force is the highest.
CREATE TABLE rules (
    brand_id   TEXT   NOT NULL REFERENCES brands (brand_id),
    version    BIGINT NOT NULL,
    rule_id    TEXT   NOT NULL,
    body       JSONB  NOT NULL, -- name, clear, coupons, deduction, addition, authors
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT rules_pkey PRIMARY KEY (brand_id, version)
);

CREATE TABLE accounts (
    brand_id      TEXT   NOT NULL,
    customer_id   TEXT   NOT NULL,
    available     BIGINT NOT NULL CHECK (available >= 0),
    frozen        BIGINT NOT NULL CHECK (frozen >= 0),
    debt          BIGINT NOT NULL CHECK (debt >= 0),
    total_earned  BIGINT NOT NULL,
    total_used    BIGINT NOT NULL,
    total_expired BIGINT NOT NULL,
    seq           BIGINT NOT NULL CHECK (seq >= 0),
    last_hash     TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (brand_id, customer_id)
);

CREATE TABLE lots (
    lot_id      TEXT   NOT NULL,
    brand_id    TEXT   NOT NULL,
    customer_id TEXT   NOT NULL,
    granted     BIGINT NOT NULL,
    remaining   BIGINT NOT NULL,
    earned_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL, -- 0: never
    flow_id     TEXT   NOT NULL,
    out_biz_id  TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    CONSTRAINT lots_pkey PRIMARY KEY (lot_id),
    CONSTRAINT lots_remaining CHECK (0 <= remaining AND remaining <= granted)
);
CREATE INDEX lots_account ON lots (brand_id, customer_id, seq);
-- The expiry sweep looks only at lots still holding points that expire.
CREATE INDEX lots_due ON lots (expires_at) WHERE remaining > 0 AND expires_at > 0;

-- Flows are never updated nor deleted.
CREATE TABLE flows (
    flow_id          TEXT   NOT NULL,
    brand_id         TEXT   NOT NULL,
    customer_id      TEXT   NOT NULL,
    seq              BIGINT NOT NULL,
    type             TEXT   NOT NULL,
    amount           BIGINT NOT NULL CHECK (amount >= 0),
    delta_available  BIGINT NOT NULL,
    delta_frozen     BIGINT NOT NULL,
    delta_debt       BIGINT NOT NULL,
    remain_point     BIGINT NOT NULL,
    out_biz_id       TEXT   NOT NULL,
    reverse_order_id TEXT   NOT NULL,
    shop_id          TEXT   NOT NULL,
    shop_name        TEXT   NOT NULL,
    channel          TEXT   NOT NULL,
    app_key          TEXT   NOT NULL,
    request_id       TEXT   NOT NULL,
    operator_id      TEXT   NOT NULL,
    operator_name    TEXT   NOT NULL,
    reason           TEXT   NOT NULL,
    rule_version     BIGINT NOT NULL,
    policy           TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    prev_hash        TEXT   NOT NULL,
    hash             TEXT   NOT NULL,
    CONSTRAINT flows_pkey PRIMARY KEY (flow_id),
    CONSTRAINT flows_account_seq UNIQUE (brand_id, customer_id, seq)
);
CREATE INDEX flows_customer_time ON flows (brand_id, customer_id, created_at, seq);
CREATE INDEX flows_brand_time ON flows (brand_id, created_at, seq);
CREATE INDEX flows_out_biz ON flows (brand_id, out_biz_id);

CREATE TABLE allocations (
    flow_id     TEXT   NOT NULL REFERENCES flows (flow_id),
    lot_id      TEXT   NOT NULL REFERENCES lots (lot_id),
    brand_id    TEXT   NOT NULL,
    customer_id TEXT   NOT NULL,
    order_ref   TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    amount      BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    CONSTRAINT allocations_account_seq UNIQUE (brand_id, customer_id, seq)
);
CREATE INDEX allocations_order ON allocations (brand_id, customer_id, order_ref, seq);

CREATE TABLE orders (
    brand_id    TEXT   NOT NULL,
    out_biz_id  TEXT   NOT NULL,
    customer_id TEXT   NOT NULL,
    spent       BIGINT NOT NULL CHECK (spent >= 0),
    reversed    BIGINT NOT NULL CHECK (reversed >= 0),
    granted     BIGINT NOT NULL CHECK (granted >= 0),
    clawed_back BIGINT NOT NULL CHECK (clawed_back >= 0),
    version     BIGINT NOT NULL,
    CONSTRAINT orders_pkey PRIMARY KEY (brand_id, out_biz_id, customer_id),
    CONSTRAINT orders_reversed CHECK (reversed <= spent),
    CONSTRAINT orders_clawed_back CHECK (clawed_back <= granted)
);
CREATE INDEX orders_account ON orders (brand_id, customer_id);

-- One row per refund: a second refund with the same reverse_order_id in a
-- brand cannot be written.
CREATE TABLE reversals (
    brand_id         TEXT   NOT NULL,
    reverse_order_id TEXT   NOT NULL,
    out_biz_id       TEXT   NOT NULL,
    customer_id      TEXT   NOT NULL,
    type             TEXT   NOT NULL,
    requested        BIGINT NOT NULL CHECK (requested >= 0),
    amount           BIGINT NOT NULL CHECK (amount >= 0),
    flow_id          TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    CONSTRAINT reversals_pkey PRIMARY KEY (brand_id, reverse_order_id)
);

CREATE TABLE holds (
    brand_id       TEXT   NOT NULL,
    outer_order_id TEXT   NOT NULL,
    customer_id    TEXT   NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    remaining      BIGINT NOT NULL CHECK (remaining >= 0),
    verified       BIGINT NOT NULL CHECK (verified >= 0),
    status         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    flow_id        TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    CONSTRAINT holds_pkey PRIMARY KEY (brand_id, outer_order_id)
);
CREATE INDEX holds_due ON holds (status, expires_at);
CREATE INDEX holds_account ON holds (brand_id, customer_id);

CREATE TABLE idempotency (
    app_key     TEXT   NOT NULL,
    request_id  TEXT   NOT NULL,
    method      TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    flow_id     TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT idempotency_pkey PRIMARY KEY (app_key, request_id)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
