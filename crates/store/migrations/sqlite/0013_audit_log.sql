-- The audit log (sqlite). Keep in step with ../postgres/0013_audit_log.sql.

-- Who did what, when, from where, to what, before and after: sign-in
-- failures, playbook and agreement changes, stage, owner and amount changes
-- by hand, handoff decisions, merges, user, token and webhook changes.
-- Append-only: the triggers below refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    -- "user:12" or "system".
    actor TEXT NOT NULL,
    actor_user_id INTEGER,
    -- The caller's address, when the change came over HTTP.
    address TEXT,
    -- What was done, as "object.verb": handoff.accept, contact.update, …
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- JSON of what changed, as it was and as it became.
    before TEXT,
    after TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_object_idx ON audit_log (object_kind, object_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
