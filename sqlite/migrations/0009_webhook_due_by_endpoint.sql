-- A claim takes the due deliveries of each active endpoint through this
-- index alone, in due order: keyed by the endpoint first, so a disabled
-- endpoint's backlog (a due head for every member with events) is never
-- read by the claims of the others. It replaces the index on next_at
-- alone, whose scan passed over every due delivery of a disabled endpoint
-- at every claim.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_at) WHERE state = 'pending';
