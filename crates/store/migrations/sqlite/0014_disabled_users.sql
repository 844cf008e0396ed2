-- Disabled users (sqlite). Keep in step with ../postgres/0014_disabled_users.sql.

-- When a user was disabled: from then on none of their tokens (or, with
-- sign-in, sessions) works. Their records and history stay.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
