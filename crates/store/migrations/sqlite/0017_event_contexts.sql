-- A batch's shared context, stored once (sqlite). Keep in step with
-- ../postgres/0017_event_contexts.sql.

-- Segment's batch requests carry one `context` for all their messages.
-- It is kept once, by the SHA-256 of its JSON, and each event points at
-- it, instead of a copy in every event's payload: a small request cannot
-- stand for a large one on disk. Events from before keep their copy.
CREATE TABLE event_contexts (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    context TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX event_contexts_hash_key ON event_contexts (hash);
ALTER TABLE events ADD COLUMN context_id INTEGER REFERENCES event_contexts (id);
CREATE INDEX events_context_id_idx ON events (context_id);
