-- Event ingestion (sqlite). Keep in step with ../postgres/0007_ingestion.sql.
-- A source is a site or app sending Segment-spec events with its write key
-- (stored as SHA-256). Every accepted message is kept once per source and
-- messageId, then applied (contacts, touchpoints, stitching) by a job.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    write_key_hash TEXT NOT NULL,
    -- JSON array of origins (https://www.example.com) allowed by CORS.
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX sources_name_key ON sources (name);
CREATE UNIQUE INDEX sources_write_key_hash_key ON sources (write_key_hash);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    processed_at INTEGER,
    -- Why applying the event did nothing, when it did nothing.
    outcome TEXT
);
CREATE UNIQUE INDEX events_source_id_message_id_key ON events (source_id, message_id);
CREATE INDEX events_unprocessed_idx ON events (id) WHERE processed_at IS NULL;

-- The userIds a contact is known by (identify, alias).
CREATE TABLE contact_identities (
    user_id TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX contact_identities_user_id_key ON contact_identities (user_id);
CREATE INDEX contact_identities_contact_id_idx ON contact_identities (contact_id);
