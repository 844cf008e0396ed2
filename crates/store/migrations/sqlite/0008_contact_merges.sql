-- Contact merges and first/last touch (sqlite). Keep in step with
-- ../postgres/0008_contact_merges.sql.

-- Where a contact first and last came from (HubSpot's original and latest
-- source): the earliest and latest of its touchpoints, kept on the contact
-- so lists, exports and filters need no join. The touch ids carry no
-- foreign key: bulk loads write contacts before their touchpoints.
ALTER TABLE contacts ADD COLUMN first_touch_id INTEGER;
ALTER TABLE contacts ADD COLUMN first_touch_at INTEGER;
ALTER TABLE contacts ADD COLUMN first_touch_channel TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_utm_source TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_utm_medium TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_utm_campaign TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_utm_term TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_utm_content TEXT;
ALTER TABLE contacts ADD COLUMN first_touch_referrer TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_id INTEGER;
ALTER TABLE contacts ADD COLUMN last_touch_at INTEGER;
ALTER TABLE contacts ADD COLUMN last_touch_channel TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_utm_source TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_utm_medium TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_utm_campaign TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_utm_term TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_utm_content TEXT;
ALTER TABLE contacts ADD COLUMN last_touch_referrer TEXT;

-- A contact merged into another stays, pointing at the one it became, so
-- its id and e-mail still lead to the person and the merge can be undone.
ALTER TABLE contacts ADD COLUMN merged_into_id INTEGER REFERENCES contacts (id);
CREATE INDEX contacts_merged_into_id_idx ON contacts (merged_into_id);

-- Every merge: who became whom, why, what moved (JSON lists of row ids)
-- and the survivor's fields before the merge filled them, so an unmerge
-- puts each row and field back.
CREATE TABLE contact_merges (
    id INTEGER PRIMARY KEY,
    survivor_id INTEGER NOT NULL REFERENCES contacts (id),
    merged_id INTEGER NOT NULL REFERENCES contacts (id),
    -- manual, alias or identify.
    cause TEXT NOT NULL,
    event_id INTEGER REFERENCES events (id),
    actor TEXT NOT NULL,
    actor_user_id INTEGER REFERENCES users (id),
    merged_at INTEGER NOT NULL,
    moved TEXT NOT NULL,
    filled TEXT NOT NULL,
    unmerged_at INTEGER,
    unmerged_by TEXT
);
CREATE INDEX contact_merges_survivor_id_idx ON contact_merges (survivor_id);
CREATE INDEX contact_merges_merged_id_idx ON contact_merges (merged_id);
CREATE INDEX contact_merges_event_id_idx ON contact_merges (event_id);
CREATE INDEX contact_merges_actor_user_id_idx ON contact_merges (actor_user_id);
-- At most one live merge of a contact into another.
CREATE UNIQUE INDEX contact_merges_live_key ON contact_merges (merged_id) WHERE unmerged_at IS NULL;

-- Existing contacts: their first and last touch as recorded so far.
UPDATE contacts SET
    first_touch_id = (SELECT t.id FROM touchpoints t WHERE t.contact_id = contacts.id
                      ORDER BY t.occurred_at, t.id LIMIT 1),
    last_touch_id = (SELECT t.id FROM touchpoints t WHERE t.contact_id = contacts.id
                     ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1);
UPDATE contacts SET
    first_touch_at = t.occurred_at, first_touch_channel = t.channel,
    first_touch_utm_source = t.utm_source, first_touch_utm_medium = t.utm_medium,
    first_touch_utm_campaign = t.utm_campaign, first_touch_utm_term = t.utm_term,
    first_touch_utm_content = t.utm_content, first_touch_referrer = t.referrer
FROM touchpoints t WHERE t.id = contacts.first_touch_id;
UPDATE contacts SET
    last_touch_at = t.occurred_at, last_touch_channel = t.channel,
    last_touch_utm_source = t.utm_source, last_touch_utm_medium = t.utm_medium,
    last_touch_utm_campaign = t.utm_campaign, last_touch_utm_term = t.utm_term,
    last_touch_utm_content = t.utm_content, last_touch_referrer = t.referrer
FROM touchpoints t WHERE t.id = contacts.last_touch_id;
