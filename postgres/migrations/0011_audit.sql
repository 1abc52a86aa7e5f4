-- The operators' audit log (package audit): append-only, hash-chained.
-- Numbered 10: version 9 is the operators' own records, developed beside
-- it (migration versions may skip numbers; see sqlmigrate).
--
-- request_json, before_json and after_json are JSON exactly as hashed
-- (TEXT, not JSONB, which would reorder it), '' for none; at is unix
-- microseconds. audit_head is the newest entry's seq and hash: an append
-- locks its row (SELECT … FOR UPDATE), so appends from every server
-- serialize on it and the chain never forks; jifen verify checks the
-- chain ends there.
CREATE TABLE audit_log (
    seq           BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    operator_id   TEXT   NOT NULL,
    operator_name TEXT   NOT NULL,
    client_addr   TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    brand_id      TEXT   NOT NULL,
    target        TEXT   NOT NULL,
    request_json  TEXT   NOT NULL,
    outcome       TEXT   NOT NULL,
    message       TEXT   NOT NULL,
    before_json   TEXT   NOT NULL,
    after_json    TEXT   NOT NULL,
    prev_hash     TEXT   NOT NULL,
    hash          TEXT   NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_log_seq CHECK (seq > 0)
);
-- The admin API's filters, newest first.
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_brand ON audit_log (brand_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_head (
    id   INTEGER NOT NULL,
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL,
    CONSTRAINT audit_head_pkey PRIMARY KEY (id),
    CONSTRAINT audit_head_one CHECK (id = 1)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
