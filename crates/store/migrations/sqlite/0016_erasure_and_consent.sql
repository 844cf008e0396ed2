-- Erasure and consent (sqlite). Keep in step with
-- ../postgres/0016_erasure_and_consent.sql.

-- The contact a queued webhook message is about, so that erasing them
-- takes their messages out of the outbox too. Not a foreign key: the
-- contact is deleted by then.
ALTER TABLE webhook_deliveries ADD COLUMN contact_id INTEGER;
CREATE INDEX webhook_deliveries_contact_id_idx ON webhook_deliveries (contact_id);

-- People erased: a keyed hash (HMAC-SHA256) of their e-mail, so that
-- ingestion and imports do not create them again. Nothing else of them
-- stays.
CREATE TABLE erased_people (
    id INTEGER PRIMARY KEY,
    email_hash TEXT NOT NULL,
    erased_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX erased_people_email_hash_key ON erased_people (email_hash);

-- Keys this installation made for itself (the erasure tombstones' key).
CREATE TABLE instance_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- What a person agreed to (or withdrew), on what lawful basis, where it
-- was given, and when. A new record for every change; the latest per
-- purpose is in force.
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    purpose TEXT NOT NULL,
    basis TEXT NOT NULL CHECK (basis IN ('consent', 'contract', 'legal_obligation',
        'vital_interests', 'public_task', 'legitimate_interests')),
    status TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    source TEXT NOT NULL,
    given_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    recorded_by INTEGER REFERENCES users (id)
);
CREATE INDEX consents_contact_id_idx ON consents (contact_id, purpose, given_at);
CREATE INDEX consents_recorded_by_idx ON consents (recorded_by);

-- The audit log stays append-only, with one exception: erasing a person
-- blanks the before and after of the entries about them (the entry that
-- something was done, by whom and when, stays) and says when.
ALTER TABLE audit_log ADD COLUMN redacted_at INTEGER;
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL
    AND NEW.before IS NULL AND NEW.after IS NULL
    AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor = OLD.actor
    AND NEW.actor_user_id IS OLD.actor_user_id AND NEW.address IS OLD.address
    AND NEW.action = OLD.action AND NEW.object_kind = OLD.object_kind
    AND NEW.object_id = OLD.object_id
)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Stage history, handoff assignments and SLA events are append-only too,
-- with the same one exception: an erasure lists the contacts it erases
-- here for the length of its transaction, and their history may then be
-- deleted. Nothing else is ever deleted from them.
CREATE TABLE erasures_in_progress (
    contact_id INTEGER PRIMARY KEY
);
DROP TRIGGER stage_changes_append_only_delete;
CREATE TRIGGER stage_changes_append_only_delete BEFORE DELETE ON stage_changes
WHEN OLD.contact_id NOT IN (SELECT contact_id FROM erasures_in_progress)
BEGIN SELECT RAISE(ABORT, 'stage_changes is append-only'); END;
DROP TRIGGER handoff_assignments_append_only_delete;
CREATE TRIGGER handoff_assignments_append_only_delete BEFORE DELETE ON handoff_assignments
WHEN NOT EXISTS (SELECT 1 FROM handoffs h JOIN erasures_in_progress e ON e.contact_id = h.contact_id
                 WHERE h.id = OLD.handoff_id)
BEGIN SELECT RAISE(ABORT, 'handoff_assignments is append-only'); END;
DROP TRIGGER sla_events_append_only_delete;
CREATE TRIGGER sla_events_append_only_delete BEFORE DELETE ON sla_events
WHEN NOT EXISTS (SELECT 1 FROM handoffs h JOIN erasures_in_progress e ON e.contact_id = h.contact_id
                 WHERE h.id = OLD.handoff_id)
BEGIN SELECT RAISE(ABORT, 'sla_events is append-only'); END;
