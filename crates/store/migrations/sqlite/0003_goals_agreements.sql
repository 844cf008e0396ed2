-- Revenue goals and the signed SLA agreement (SQLite). Keep in step with
-- ../postgres/0003_goals_agreements.sql.

CREATE TABLE goals (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    revenue_minor INTEGER NOT NULL CHECK (revenue_minor >= 0),
    marketing_share REAL NOT NULL CHECK (marketing_share > 0 AND marketing_share <= 1),
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX goals_period_key ON goals (period);
CREATE INDEX goals_created_by_idx ON goals (created_by);

-- Each version of the SLA section of the playbook is an agreement that both
-- teams sign; it is in force once both have.
CREATE TABLE sla_agreements (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    playbook_version INTEGER NOT NULL,
    policy TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX sla_agreements_version_key ON sla_agreements (version);

CREATE TABLE sla_signoffs (
    id INTEGER PRIMARY KEY,
    agreement_id INTEGER NOT NULL REFERENCES sla_agreements (id),
    team TEXT NOT NULL CHECK (team IN ('marketing', 'sales')),
    user_id INTEGER NOT NULL REFERENCES users (id),
    signed_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX sla_signoffs_team_key ON sla_signoffs (agreement_id, team);
CREATE INDEX sla_signoffs_user_id_idx ON sla_signoffs (user_id);
