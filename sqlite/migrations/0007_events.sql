-- Events: what the brand's other systems are told, one row per event,
-- written in the transaction of what happened. pos is the event's place
-- in commit order: the writer is the only one, so the row id it gives at
-- insert is commit order; readers page by it (GET /admin/v1/events).
-- events_id makes an event id unique per brand (an expiry reminder
-- recorded twice is one event) and finds a flow's event.
CREATE TABLE events (
    pos      INTEGER PRIMARY KEY,
    brand_id TEXT    NOT NULL,
    event_id TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    data     TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_id ON events (brand_id, event_id);
