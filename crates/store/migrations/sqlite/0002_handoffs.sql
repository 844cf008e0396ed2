-- Handoffs, routing and SLA clocks (SQLite). Keep in step with
-- ../postgres/0002_handoffs.sql.

-- Per-rep routing settings and working calendar (JSON of a calendar spec;
-- NULL means the playbook's company calendar).
CREATE TABLE rep_settings (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    weight INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 1),
    capacity INTEGER CHECK (capacity >= 1),
    calendar TEXT,
    routing_tag REAL NOT NULL DEFAULT 0
);

-- The team's fair-queueing virtual time: one row.
CREATE TABLE routing_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    virtual_time REAL NOT NULL
);

CREATE TABLE out_of_office (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    note TEXT,
    created_at INTEGER NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX out_of_office_user_id_idx ON out_of_office (user_id, starts_at);

CREATE TABLE handoffs (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    mql_change_id INTEGER REFERENCES stage_changes (id),
    assignee_id INTEGER REFERENCES users (id),
    assigned_at INTEGER,
    route_rule TEXT NOT NULL,
    route_reason TEXT NOT NULL,
    decision TEXT CHECK (decision IN ('accepted', 'rejected')),
    decided_at INTEGER,
    decided_by INTEGER REFERENCES users (id),
    reason_code TEXT,
    decision_note TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- At most one open handoff per contact.
CREATE UNIQUE INDEX handoffs_open_contact_key ON handoffs (contact_id) WHERE decision IS NULL;
CREATE INDEX handoffs_contact_id_idx ON handoffs (contact_id);
CREATE INDEX handoffs_assignee_id_idx ON handoffs (assignee_id, decision);
CREATE INDEX handoffs_decided_by_idx ON handoffs (decided_by);
CREATE INDEX handoffs_mql_change_id_idx ON handoffs (mql_change_id);

-- Who held a handoff when, and why (append-only).
CREATE TABLE handoff_assignments (
    id INTEGER PRIMARY KEY,
    handoff_id INTEGER NOT NULL REFERENCES handoffs (id),
    user_id INTEGER REFERENCES users (id),
    assigned_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id INTEGER REFERENCES users (id),
    rule TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX handoff_assignments_handoff_id_idx ON handoff_assignments (handoff_id, assigned_at);
CREATE INDEX handoff_assignments_user_id_idx ON handoff_assignments (user_id);
CREATE INDEX handoff_assignments_actor_user_id_idx ON handoff_assignments (actor_user_id);

-- Each change of an SLA clock's state, recorded once (append-only).
CREATE TABLE sla_events (
    id INTEGER PRIMARY KEY,
    handoff_id INTEGER NOT NULL REFERENCES handoffs (id),
    clock TEXT NOT NULL CHECK (clock IN ('first_touch', 'attempts', 'decision')),
    state TEXT NOT NULL CHECK (state IN ('on_track', 'at_risk', 'breached', 'met')),
    at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX sla_events_natural_key ON sla_events (handoff_id, clock, state, at);

CREATE TRIGGER handoff_assignments_append_only_update BEFORE UPDATE ON handoff_assignments
BEGIN SELECT RAISE(ABORT, 'handoff_assignments is append-only'); END;
CREATE TRIGGER handoff_assignments_append_only_delete BEFORE DELETE ON handoff_assignments
BEGIN SELECT RAISE(ABORT, 'handoff_assignments is append-only'); END;
CREATE TRIGGER sla_events_append_only_update BEFORE UPDATE ON sla_events
BEGIN SELECT RAISE(ABORT, 'sla_events is append-only'); END;
CREATE TRIGGER sla_events_append_only_delete BEFORE DELETE ON sla_events
BEGIN SELECT RAISE(ABORT, 'sla_events is append-only'); END;
