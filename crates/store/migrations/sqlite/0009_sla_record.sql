-- An SLA record both teams can trust (sqlite). Keep in step with
-- ../postgres/0009_sla_record.sql.

-- The terms a handoff is held to, fixed when it is opened: the SLA agreement
-- signed by both teams then (none before the first is signed), and the
-- playbook version whose calendar (and, with no agreement, SLA numbers)
-- applied. A later playbook or agreement never re-judges it.
ALTER TABLE handoffs ADD COLUMN playbook_version INTEGER;
ALTER TABLE handoffs ADD COLUMN agreement_version INTEGER;
-- A handoff that left the loop by another path than sales' decision (a stage
-- moved by hand, a deal, a merge, an erasure): when, why, and by whom. Its
-- clocks stop then.
ALTER TABLE handoffs ADD COLUMN closed_at INTEGER;
ALTER TABLE handoffs ADD COLUMN closed_cause TEXT;
ALTER TABLE handoffs ADD COLUMN closed_by INTEGER REFERENCES users (id);

-- Handoffs opened before this migration are held to what was in force when
-- they were opened, as far as the stored versions tell.
UPDATE handoffs SET playbook_version = COALESCE(
    (SELECT MAX(p.version) FROM playbook_versions p WHERE p.created_at <= handoffs.created_at),
    (SELECT MIN(p.version) FROM playbook_versions p));
UPDATE handoffs SET agreement_version = (
    SELECT a.version FROM sla_agreements a
    WHERE (SELECT COUNT(*) FROM sla_signoffs s WHERE s.agreement_id = a.id) = 2
      AND (SELECT MAX(s.signed_at) FROM sla_signoffs s WHERE s.agreement_id = a.id) <= handoffs.created_at
    ORDER BY a.version DESC LIMIT 1);

DROP INDEX handoffs_open_contact_key;
CREATE UNIQUE INDEX handoffs_open_contact_key ON handoffs (contact_id)
    WHERE decision IS NULL AND closed_at IS NULL;
CREATE INDEX handoffs_closed_by_idx ON handoffs (closed_by);

-- Who logged an activity: the rep themself, or a manager logging for them.
-- Its occurred_at is when the rep says it happened (at most the playbook's
-- grace before it was recorded); created_at is when it was recorded.
ALTER TABLE activities ADD COLUMN logged_by INTEGER REFERENCES users (id);
UPDATE activities SET logged_by = user_id;
CREATE INDEX activities_logged_by_idx ON activities (logged_by);

-- When a contact was last recycled to marketing: its engagement counts from
-- then, and it may qualify again only after the playbook's nurture period.
ALTER TABLE contacts ADD COLUMN recycled_at INTEGER;
UPDATE contacts SET recycled_at = (
    SELECT MAX(s.changed_at) FROM stage_changes s
    WHERE s.contact_id = contacts.id AND s.to_stage = 'recycled');

-- Each run that re-matches personas and rescores every contact under a new
-- playbook version, with its progress: reports say which version the
-- cached scores are from.
CREATE TABLE playbook_rescores (
    id INTEGER PRIMARY KEY,
    playbook_version INTEGER NOT NULL,
    contacts INTEGER NOT NULL,
    done INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX playbook_rescores_version_idx ON playbook_rescores (playbook_version);
