-- Foundation schema (SQLite). Instants are INTEGER milliseconds since the
-- epoch (UTC); money is INTEGER minor units. Keep in step with
-- ../postgres/0001_foundation.sql: same tables, columns and index names.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    team TEXT NOT NULL CHECK (team IN ('marketing', 'sales')),
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'member')),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE playbook_versions (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    author TEXT NOT NULL,
    note TEXT,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX playbook_versions_version_key ON playbook_versions (version);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    external_id TEXT,
    name TEXT NOT NULL,
    domain TEXT,
    industry TEXT,
    employee_count INTEGER CHECK (employee_count >= 0),
    company_size TEXT,
    region TEXT,
    country TEXT,
    owner_id INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_external_id_key ON accounts (external_id);
CREATE UNIQUE INDEX accounts_domain_key ON accounts (domain);
CREATE INDEX accounts_owner_id_idx ON accounts (owner_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    external_id TEXT,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    job_title TEXT,
    phone TEXT,
    country TEXT,
    account_id INTEGER REFERENCES accounts (id),
    owner_id INTEGER REFERENCES users (id),
    persona TEXT,
    stage TEXT NOT NULL,
    source_channel TEXT,
    fit_score INTEGER NOT NULL DEFAULT 0,
    engagement_score REAL NOT NULL DEFAULT 0,
    scored_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (external_id);
CREATE UNIQUE INDEX contacts_email_key ON contacts (email);
CREATE INDEX contacts_stage_idx ON contacts (stage, id);
CREATE INDEX contacts_account_id_idx ON contacts (account_id);
CREATE INDEX contacts_owner_id_idx ON contacts (owner_id);
CREATE INDEX contacts_persona_idx ON contacts (persona);
CREATE INDEX contacts_created_at_idx ON contacts (created_at);

CREATE TABLE visitors (
    id INTEGER PRIMARY KEY,
    anonymous_id TEXT NOT NULL,
    contact_id INTEGER REFERENCES contacts (id),
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX visitors_anonymous_id_key ON visitors (anonymous_id);
CREATE INDEX visitors_contact_id_idx ON visitors (contact_id);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    external_id TEXT,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    utm_campaign TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    spend_minor INTEGER NOT NULL DEFAULT 0 CHECK (spend_minor >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX campaigns_external_id_key ON campaigns (external_id);
CREATE UNIQUE INDEX campaigns_name_key ON campaigns (name);
CREATE INDEX campaigns_utm_campaign_idx ON campaigns (utm_campaign);

CREATE TABLE touchpoints (
    id INTEGER PRIMARY KEY,
    external_id TEXT,
    contact_id INTEGER REFERENCES contacts (id),
    visitor_id INTEGER REFERENCES visitors (id),
    occurred_at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    campaign_id INTEGER REFERENCES campaigns (id),
    kind TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_term TEXT,
    utm_content TEXT,
    referrer TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    CHECK (contact_id IS NOT NULL OR visitor_id IS NOT NULL)
);
CREATE UNIQUE INDEX touchpoints_external_id_key ON touchpoints (external_id);
CREATE INDEX touchpoints_contact_id_idx ON touchpoints (contact_id, occurred_at);
CREATE INDEX touchpoints_visitor_id_idx ON touchpoints (visitor_id);
CREATE INDEX touchpoints_campaign_id_idx ON touchpoints (campaign_id);
CREATE INDEX touchpoints_channel_idx ON touchpoints (channel, contact_id);

CREATE TABLE stage_changes (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id INTEGER REFERENCES users (id),
    cause TEXT NOT NULL,
    reason_code TEXT,
    note TEXT,
    touchpoint_id INTEGER REFERENCES touchpoints (id)
);
CREATE UNIQUE INDEX stage_changes_natural_key ON stage_changes (contact_id, to_stage, changed_at);
CREATE INDEX stage_changes_contact_id_idx ON stage_changes (contact_id, changed_at);
CREATE INDEX stage_changes_actor_user_id_idx ON stage_changes (actor_user_id);
CREATE INDEX stage_changes_touchpoint_id_idx ON stage_changes (touchpoint_id);
CREATE INDEX stage_changes_to_stage_idx ON stage_changes (to_stage, changed_at);

CREATE TABLE deals (
    id INTEGER PRIMARY KEY,
    external_id TEXT,
    name TEXT NOT NULL,
    contact_id INTEGER REFERENCES contacts (id),
    account_id INTEGER REFERENCES accounts (id),
    owner_id INTEGER REFERENCES users (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    pipeline_stage TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    lost_reason TEXT,
    created_at INTEGER NOT NULL,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX deals_external_id_key ON deals (external_id);
CREATE INDEX deals_contact_id_idx ON deals (contact_id);
CREATE INDEX deals_account_id_idx ON deals (account_id);
CREATE INDEX deals_owner_id_idx ON deals (owner_id);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    deal_id INTEGER REFERENCES deals (id),
    user_id INTEGER REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
    outcome TEXT NOT NULL CHECK (outcome IN ('attempt', 'connect')),
    subject TEXT,
    body TEXT,
    occurred_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX activities_contact_id_idx ON activities (contact_id, occurred_at);
CREATE INDEX activities_deal_id_idx ON activities (deal_id);
CREATE INDEX activities_user_id_idx ON activities (user_id);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER REFERENCES contacts (id),
    account_id INTEGER REFERENCES accounts (id),
    deal_id INTEGER REFERENCES deals (id),
    author_id INTEGER REFERENCES users (id),
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (contact_id IS NOT NULL OR account_id IS NOT NULL OR deal_id IS NOT NULL)
);
CREATE INDEX notes_contact_id_idx ON notes (contact_id, created_at);
CREATE INDEX notes_account_id_idx ON notes (account_id);
CREATE INDEX notes_deal_id_idx ON notes (deal_id);
CREATE INDEX notes_author_id_idx ON notes (author_id);

-- History is append-only: refuse edits and deletions at the database.
CREATE TRIGGER stage_changes_append_only_update BEFORE UPDATE ON stage_changes
BEGIN SELECT RAISE(ABORT, 'stage_changes is append-only'); END;
CREATE TRIGGER stage_changes_append_only_delete BEFORE DELETE ON stage_changes
BEGIN SELECT RAISE(ABORT, 'stage_changes is append-only'); END;
CREATE TRIGGER playbook_versions_append_only_update BEFORE UPDATE ON playbook_versions
BEGIN SELECT RAISE(ABORT, 'playbook_versions is append-only'); END;
CREATE TRIGGER playbook_versions_append_only_delete BEFORE DELETE ON playbook_versions
BEGIN SELECT RAISE(ABORT, 'playbook_versions is append-only'); END;
