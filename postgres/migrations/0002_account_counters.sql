-- Each account numbers its own lots and allocations: the next number is
-- its counter plus one, so a write needs no MAX(seq) over the account's
-- rows (a Book loads only some of them: live lots, one order's
-- allocations).
ALTER TABLE accounts
    ADD COLUMN lot_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN alloc_seq BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET
    lot_seq = COALESCE((SELECT MAX(seq) FROM lots
                        WHERE lots.brand_id = accounts.brand_id AND lots.customer_id = accounts.customer_id), 0),
    alloc_seq = COALESCE((SELECT MAX(seq) FROM allocations
                          WHERE allocations.brand_id = accounts.brand_id AND allocations.customer_id = accounts.customer_id), 0);
