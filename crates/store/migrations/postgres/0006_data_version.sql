-- The data version (PostgreSQL): a counter every transaction that writes
-- the tables reports read bumps once, so cached report results are reused
-- exactly while nothing they read has changed. Keep in step with
-- ../sqlite/0006_data_version.sql.
--
-- A statement-level trigger marks the writing transaction (one row per
-- transaction, whatever it writes); a deferred constraint trigger on that
-- mark bumps the counter at commit and removes the mark. So a bulk import
-- queues one deferred event, not one per row, and the counter row is the
-- last lock a writer takes: writers cannot deadlock on it.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO data_version (id, version) VALUES (1, 0);

CREATE TABLE data_version_marks (
    txid BIGINT PRIMARY KEY
);

CREATE FUNCTION mark_data_change() RETURNS trigger AS $$
BEGIN
    INSERT INTO data_version_marks (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION bump_data_version() RETURNS trigger AS $$
BEGIN
    UPDATE data_version SET version = version + 1 WHERE id = 1;
    DELETE FROM data_version_marks WHERE txid = NEW.txid;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER data_version_marks_bump AFTER INSERT ON data_version_marks
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER accounts_data_version AFTER INSERT OR UPDATE OR DELETE ON accounts
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER contacts_data_version AFTER INSERT OR UPDATE OR DELETE ON contacts
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER campaigns_data_version AFTER INSERT OR UPDATE OR DELETE ON campaigns
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER touchpoints_data_version AFTER INSERT OR UPDATE OR DELETE ON touchpoints
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER stage_changes_data_version AFTER INSERT OR UPDATE OR DELETE ON stage_changes
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER deals_data_version AFTER INSERT OR UPDATE OR DELETE ON deals
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
CREATE TRIGGER users_data_version AFTER INSERT OR UPDATE OR DELETE ON users
FOR EACH STATEMENT EXECUTE FUNCTION mark_data_change();
