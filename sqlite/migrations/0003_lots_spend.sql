-- Live lots in the ledger's spend order (earliest expiry first,
-- never-expiring last, then by creation), so a spend reads only the lots it
-- takes from, however many a member holds.
CREATE INDEX lots_spend ON lots (brand_id, customer_id, expires_at = 0, expires_at, seq) WHERE remaining > 0;
