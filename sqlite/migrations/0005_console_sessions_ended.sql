-- Console sessions ended by signing out before they expired: a signed
-- cookie stays valid until its expiry unless the server remembers that it
-- was ended. Kept until that expiry, then forgotten.
CREATE TABLE console_sessions_ended (
    nonce      TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
