-- Webhooks: the HTTP endpoints told of events (package webhook), and the
-- delivery of each event to each endpoint (see webhooks.go).
--
-- webhooks holds an endpoint's configuration (the tenant file's
-- webhooks:, the admin API) and its state: disabled_at is 0 while it is
-- active; failing_since is when its attempts began to fail (0 after a
-- success); scheduled_pos is the event position up to which its
-- deliveries have been made. Its row is also the lock that orders the
-- writes of one endpoint's queues across servers.
CREATE TABLE webhooks (
    webhook_id      TEXT   NOT NULL,
    url             TEXT   NOT NULL,
    secret          TEXT   NOT NULL,
    brands          JSONB  NOT NULL, -- JSON array; empty: every brand
    events          JSONB  NOT NULL, -- JSON array; empty: every type
    disabled_at     BIGINT NOT NULL,
    disabled_reason TEXT   NOT NULL,
    failing_since   BIGINT NOT NULL,
    scheduled_pos   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (webhook_id)
);

-- One event (pos) to one endpoint. A member's events (brand_id, subject)
-- form one queue per endpoint: only its oldest pending delivery is
-- attempted; the others wait with next_at at the largest integer and are
-- made due when the one before them ends. since is the first attempt of
-- the current retry window (0 before it);
-- lease_owner and lease_until name the server attempting it.
CREATE TABLE webhook_deliveries (
    webhook_id   TEXT    NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    pos          BIGINT  NOT NULL,
    brand_id     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    since        BIGINT  NOT NULL,
    next_at      BIGINT  NOT NULL,
    lease_owner  TEXT    NOT NULL,
    lease_until  BIGINT  NOT NULL,
    last_status  INTEGER NOT NULL,
    last_latency BIGINT  NOT NULL, -- microseconds
    last_error   TEXT    NOT NULL,
    done_at      BIGINT  NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (webhook_id, pos)
);
-- The dispatcher: due deliveries; a member's queue.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, brand_id, subject, pos) WHERE state = 'pending';
-- The admin API and console: an endpoint's deliveries in one state,
-- newest first; an event's deliveries (a flow's page).
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (webhook_id, state, pos);
CREATE INDEX webhook_deliveries_pos ON webhook_deliveries (pos);

-- Every attempt of a delivery (n from 1): status 0 when no answer came.
CREATE TABLE webhook_attempts (
    webhook_id TEXT    NOT NULL,
    pos        BIGINT  NOT NULL,
    n          INTEGER NOT NULL,
    at         BIGINT  NOT NULL,
    status     INTEGER NOT NULL,
    latency    BIGINT  NOT NULL, -- microseconds
    error      TEXT    NOT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (webhook_id, pos, n),
    FOREIGN KEY (webhook_id, pos) REFERENCES webhook_deliveries (webhook_id, pos) ON DELETE CASCADE
);
