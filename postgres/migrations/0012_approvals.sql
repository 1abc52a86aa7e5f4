-- Four eyes (package approval): an operator's refund or adjustment above
-- its brand's approval_above, waiting for another operator. request is
-- the request as it executes once approved (JSON); request_id is the one
-- its operator sent, which it executes under: one approval per request
-- id. decided_by_* and decided_at are '' and 0 until it is decided;
-- result is the executed flow's id or the ledger's refusal code, '' until
-- the execution ended. Times are unix microseconds.
CREATE TABLE approvals (
    approval_id       TEXT    NOT NULL,
    brand_id          TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('reversal', 'adjustment')),
    request           TEXT    NOT NULL,
    points            BIGINT  NOT NULL CHECK (points > 0),
    request_id        TEXT    NOT NULL,
    requester_id      TEXT    NOT NULL,
    requester_name    TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'failed')),
    decided_by_id     TEXT    NOT NULL,
    decided_by_name   TEXT    NOT NULL,
    decided_at        BIGINT  NOT NULL,
    reason            TEXT    NOT NULL,
    result            TEXT    NOT NULL,
    CONSTRAINT approvals_pkey PRIMARY KEY (approval_id),
    CONSTRAINT approvals_request_id_key UNIQUE (request_id)
);
CREATE INDEX approvals_brand ON approvals (brand_id, created_at);
-- The sweep's: pending ones to expire, approved ones whose execution did
-- not end.
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE state = 'pending';
CREATE INDEX approvals_unexecuted ON approvals (decided_at) WHERE state = 'approved' AND result = '';
