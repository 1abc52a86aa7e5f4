-- The deliveries' indexes, so that each lookup has one index made for it,
-- whatever the planner knows of the table: it grows from nothing to a
-- backlog within seconds of a burst of writes, long before its first
-- ANALYZE, and plans made then (a prepared statement's generic plan is
-- kept) took whichever index could serve, reading every pending delivery
-- of the endpoint to find one member's (docs/benchmarks.md, "Events").
--
-- webhook_deliveries_due: a claim takes the due deliveries of each active
-- endpoint through it, in due order, keyed by the endpoint first so that a
-- disabled endpoint's backlog (a due head for every member with events) is
-- never read by the claims of the others. It holds only deliveries that
-- can be due: a queue's waiting ones (next_at at the largest bigint) are
-- left out, and a statement that does not say next_at < that value cannot
-- use it. It replaces the index on next_at alone, whose scan passed over
-- every due delivery of a disabled endpoint at every claim.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_at)
    WHERE state = 'pending' AND next_at < 9223372036854775807;

-- webhook_deliveries_state: an endpoint's delivered or failed deliveries,
-- newest first (the admin API, the console). Pending ones are found
-- through the queue index (a member's), the due index (a claim's) or the
-- primary key (newest first), so this one leaves them out and is never
-- taken for a member's pending deliveries.
DROP INDEX webhook_deliveries_state;
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (webhook_id, state, pos) WHERE state <> 'pending';
