-- Webhook delivery by cursor (package webhook): an endpoint's
-- scheduled_pos is its cursor, moved once per batch of events by the
-- server holding its lease (lease_owner until lease_until; '' and 0 when
-- none holds it). A batch's acknowledged events are one row of
-- webhook_batches; only the events a batch could not deliver get a row of
-- webhook_deliveries.
ALTER TABLE webhooks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;

-- One batch of an endpoint's cursor, from from_pos (exclusive) to to_pos:
-- the events it acknowledged (items, encoded by webhook.EncodeItems
-- relative to from_pos and started_at), delivered of them. An endpoint's
-- batches cover disjoint ranges, so from_pos orders them and finds the
-- one that holds a position.
CREATE TABLE webhook_batches (
    webhook_id TEXT   NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    from_pos   BIGINT NOT NULL,
    to_pos     BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    delivered  BIGINT NOT NULL,
    items      BYTEA  NOT NULL,
    CONSTRAINT webhook_batches_pkey PRIMARY KEY (webhook_id, from_pos)
);
