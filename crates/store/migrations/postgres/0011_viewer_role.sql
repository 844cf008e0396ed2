-- A read-only role for executives: viewer (postgres). Keep in step with
-- ../sqlite/0011_viewer_role.sql.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'manager', 'member', 'viewer'));
