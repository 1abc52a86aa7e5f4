-- Events: what the brand's other systems are told, one row per event,
-- written in the transaction of what happened (see events.go).
--
-- Several servers commit at once, so no number given at insert is commit
-- order. pos is given after the commit instead, by one placing
-- transaction at a time (it locks the one row of event_positions, which
-- holds the last position given), to the rows committed and not yet
-- placed, in the order they were inserted (ord, n): a member's writes take
-- its account's lock, so a member's later event was inserted after the
-- earlier one committed. Readers page by pos, which only grows.
CREATE TABLE events (
    brand_id TEXT        NOT NULL,
    event_id TEXT        NOT NULL,
    pos      BIGINT,
    ord      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    n        INTEGER     NOT NULL,
    type     TEXT        NOT NULL,
    subject  TEXT        NOT NULL,
    time     BIGINT      NOT NULL,
    data     TEXT        NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (brand_id, event_id)
);
-- Readers: events after a position, in order.
CREATE UNIQUE INDEX events_pos ON events (pos);
-- The placing transaction: what is committed and not yet placed.
CREATE INDEX events_unplaced ON events (ord, n) WHERE pos IS NULL;
CREATE TABLE event_positions (
    id   INTEGER NOT NULL,
    last BIGINT  NOT NULL,
    CONSTRAINT event_positions_pkey PRIMARY KEY (id),
    CONSTRAINT event_positions_one CHECK (id = 1)
);
INSERT INTO event_positions (id, last) VALUES (1, 0);
