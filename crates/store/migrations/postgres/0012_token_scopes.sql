-- API tokens with a scope and an expiry (postgres). Keep in step with
-- ../sqlite/0012_token_scopes.sql.

-- read, write or admin: what the token may do within its user's
-- permissions. Tokens issued before scopes existed could do everything
-- their user could, and keep that.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'write', 'admin'));
-- After this instant the token no longer works (NULL: never expires).
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
