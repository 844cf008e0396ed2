-- A read-only role for executives: viewer (sqlite). Keep in step with
-- ../postgres/0011_viewer_role.sql.
--
-- SQLite cannot change a CHECK constraint in place, so the users table is
-- rebuilt by SQLite's documented procedure, which needs foreign keys off;
-- that pragma does nothing inside a transaction, and the migrator runs
-- each file in one. So this file ends the migrator's transaction, rebuilds
-- in its own with foreign keys off, and opens a new one for the migrator
-- to record the migration in and commit. Dropping the old table drops its
-- triggers, so the data-version triggers of 0006 are made again.
COMMIT;
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    team TEXT NOT NULL CHECK (team IN ('marketing', 'sales')),
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'member', 'viewer')),
    created_at INTEGER NOT NULL
);
INSERT INTO users_new (id, name, email, team, role, created_at)
    SELECT id, name, email, team, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE TRIGGER users_data_version_insert AFTER INSERT ON users BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER users_data_version_update AFTER UPDATE ON users BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER users_data_version_delete AFTER DELETE ON users BEGIN UPDATE data_version SET version = version + 1; END;
COMMIT;
PRAGMA foreign_keys = ON;
BEGIN;
