-- Event retention (jifen serve --event-retention): events older than the
-- retention period that every consumer jifen knows of has passed are
-- removed from the start of the log, a contiguous prefix, never the
-- newest (the writer numbers the next event after it). event_horizon
-- holds the highest position removed: a cursor below it asks for events
-- that are gone. event_outputs holds how far each output jifen does not
-- otherwise track has published (a NATS stream), refreshed while a
-- server runs it: an output not refreshed within the retention period
-- holds nothing back.
CREATE TABLE event_horizon (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pos INTEGER NOT NULL
) STRICT;
INSERT INTO event_horizon (id, pos) VALUES (1, 0);
CREATE TABLE event_outputs (
    name       TEXT    NOT NULL PRIMARY KEY,
    pos        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
