-- Sign-in for people (sqlite). Keep in step with ../postgres/0015_sign_in.sql.

-- The user's password as an Argon2id PHC string (salt and parameters in
-- it); NULL: the user cannot sign in with a password (tokens only).
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- Server-side sessions of signed-in people. The cookie carries a random
-- secret of 256 bits; only its SHA-256 is kept here. A session ends at
-- sign-out, when its user is disabled or resets their password, after it
-- has been idle too long, or at its absolute expiry, whichever is first.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Written at most once a minute; the idle timeout counts from it.
    last_seen_at INTEGER NOT NULL,
    -- The absolute end, fixed at sign-in.
    expires_at INTEGER NOT NULL,
    ended_at INTEGER,
    -- sign_out, rotated, disabled, password_reset
    ended_cause TEXT,
    address TEXT,
    user_agent TEXT
);
CREATE UNIQUE INDEX sessions_secret_hash_key ON sessions (secret_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- One-time password reset links an admin issues. Only the link's hash is
-- kept; it works once, before it expires.
CREATE TABLE password_resets (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users (id),
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE UNIQUE INDEX password_resets_token_hash_key ON password_resets (token_hash);
CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);
CREATE INDEX password_resets_created_by_idx ON password_resets (created_by);
