-- Operators of the admin API and console (package operator): who they
-- are, their role, the brands they act in (a JSON array; empty: every
-- brand), the points one action of a support operator may move, their
-- bcrypt password hash and the count of consecutive failed sign-ins,
-- which locks them until locked_until (0: not locked). Times are unix
-- microseconds.
CREATE TABLE operators (
    operator_id         TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    role                TEXT    NOT NULL CHECK (role IN ('viewer', 'support', 'admin')),
    brands              TEXT    NOT NULL,
    points_limit        INTEGER NOT NULL CHECK (points_limit >= 0),
    disabled            INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    password_hash       TEXT    NOT NULL,
    password_changed_at INTEGER NOT NULL,
    failed_sign_ins     INTEGER NOT NULL CHECK (failed_sign_ins >= 0),
    locked_until        INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

-- An operator's API tokens: only the SHA-256 of the secret is kept.
-- revoked_at is 0 while the token is in force; last_used_at is 0 until
-- it is used, then updated at most once a minute.
CREATE TABLE operator_tokens (
    token_id     TEXT    NOT NULL PRIMARY KEY,
    operator_id  TEXT    NOT NULL REFERENCES operators (operator_id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX operator_tokens_operator ON operator_tokens (operator_id, created_at);

-- The console's session signing key: one row, made at first use, shared
-- by every server of the database.
CREATE TABLE console_key (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    key BLOB    NOT NULL
) STRICT;
