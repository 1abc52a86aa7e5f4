-- Operators of the admin API and console (package operator): who they
-- are, their role, the brands they act in (a JSON array; empty: every
-- brand), the points one action of a support operator may move, their
-- bcrypt password hash and the count of consecutive failed sign-ins,
-- which locks them until locked_until (0: not locked). Times are unix
-- microseconds.
CREATE TABLE operators (
    operator_id         TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('viewer', 'support', 'admin')),
    brands              JSONB   NOT NULL,
    points_limit        BIGINT  NOT NULL CHECK (points_limit >= 0),
    disabled            BOOLEAN NOT NULL,
    password_hash       TEXT    NOT NULL,
    password_changed_at BIGINT  NOT NULL,
    failed_sign_ins     INTEGER NOT NULL CHECK (failed_sign_ins >= 0),
    locked_until        BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    CONSTRAINT operators_pkey PRIMARY KEY (operator_id),
    CONSTRAINT operators_name_key UNIQUE (name)
);

-- An operator's API tokens: only the SHA-256 of the secret is kept.
-- revoked_at is 0 while the token is in force; last_used_at is 0 until
-- it is used, then updated at most once a minute.
CREATE TABLE operator_tokens (
    token_id     TEXT   NOT NULL,
    operator_id  TEXT   NOT NULL REFERENCES operators (operator_id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    hash         BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT NOT NULL,
    CONSTRAINT operator_tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT operator_tokens_hash_key UNIQUE (hash)
);
CREATE INDEX operator_tokens_operator ON operator_tokens (operator_id, created_at);

-- The console's session signing key: one row, made at first use, shared
-- by every server of the database.
CREATE TABLE console_key (
    id  INTEGER NOT NULL CHECK (id = 1),
    key BYTEA   NOT NULL,
    CONSTRAINT console_key_pkey PRIMARY KEY (id)
);
