-- Escalations, the in-app notification feed and the webhook outbox
-- (SQLite). Keep in step with ../postgres/0004_escalations_webhooks.sql.

-- A step of the escalation ladder, due at an instant. Firing claims the row
-- (fired_at IS NULL -> now) in the same transaction as its effects, so each
-- fires exactly once however many processes run the scheduler.
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    handoff_id INTEGER NOT NULL REFERENCES handoffs (id),
    clock TEXT NOT NULL,
    step TEXT NOT NULL CHECK (step IN ('notify_rep', 'notify_manager', 'reassign')),
    assigned_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    fired_at INTEGER,
    outcome TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX escalations_natural_key ON escalations (handoff_id, clock, step, assigned_at);
CREATE INDEX escalations_due_idx ON escalations (fired_at, due_at);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    handoff_id INTEGER REFERENCES handoffs (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notifications_user_id_idx ON notifications (user_id, created_at);
CREATE INDEX notifications_handoff_id_idx ON notifications (handoff_id);

-- Receivers of outgoing events. The signing secret must be readable to sign
-- with HMAC, so it is stored as issued (like every Standard Webhooks sender).
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

-- The outbox: one row per event and endpoint, retried until delivered.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    message_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER,
    failed_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_message_key ON webhook_deliveries (endpoint_id, message_id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (delivered_at, next_attempt_at);
