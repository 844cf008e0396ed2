-- The data version (PostgreSQL): a counter every transaction that writes
-- the tables reports read bumps once, so cached report results are reused
-- exactly while nothing they read has changed. Keep in step with
-- ../sqlite/0006_data_version.sql.
--
-- The bump runs at commit (deferred constraint triggers), as the last lock a
-- transaction takes: writers never deadlock on the counter, and hold it only
-- while committing.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO data_version (id, version) VALUES (1, 0);

CREATE FUNCTION bump_data_version() RETURNS trigger AS $$
BEGIN
    IF current_setting('smarketing.data_version_bumped', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE data_version SET version = version + 1 WHERE id = 1;
        PERFORM set_config('smarketing.data_version_bumped', txid_current()::text, true);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER accounts_data_version AFTER INSERT OR UPDATE OR DELETE ON accounts
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER contacts_data_version AFTER INSERT OR UPDATE OR DELETE ON contacts
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER campaigns_data_version AFTER INSERT OR UPDATE OR DELETE ON campaigns
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER touchpoints_data_version AFTER INSERT OR UPDATE OR DELETE ON touchpoints
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER stage_changes_data_version AFTER INSERT OR UPDATE OR DELETE ON stage_changes
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER deals_data_version AFTER INSERT OR UPDATE OR DELETE ON deals
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
CREATE CONSTRAINT TRIGGER users_data_version AFTER INSERT OR UPDATE OR DELETE ON users
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version();
