-- The data version (SQLite): a counter every write to the tables reports
-- read bumps, so cached report results are reused exactly while nothing they
-- read has changed. Keep in step with ../postgres/0006_data_version.sql.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO data_version (id, version) VALUES (1, 0);
CREATE TRIGGER accounts_data_version_insert AFTER INSERT ON accounts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER accounts_data_version_update AFTER UPDATE ON accounts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER accounts_data_version_delete AFTER DELETE ON accounts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER contacts_data_version_insert AFTER INSERT ON contacts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER contacts_data_version_update AFTER UPDATE ON contacts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER contacts_data_version_delete AFTER DELETE ON contacts BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER campaigns_data_version_insert AFTER INSERT ON campaigns BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER campaigns_data_version_update AFTER UPDATE ON campaigns BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER campaigns_data_version_delete AFTER DELETE ON campaigns BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER touchpoints_data_version_insert AFTER INSERT ON touchpoints BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER touchpoints_data_version_update AFTER UPDATE ON touchpoints BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER touchpoints_data_version_delete AFTER DELETE ON touchpoints BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER stage_changes_data_version_insert AFTER INSERT ON stage_changes BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER stage_changes_data_version_update AFTER UPDATE ON stage_changes BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER stage_changes_data_version_delete AFTER DELETE ON stage_changes BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER deals_data_version_insert AFTER INSERT ON deals BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER deals_data_version_update AFTER UPDATE ON deals BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER deals_data_version_delete AFTER DELETE ON deals BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER users_data_version_insert AFTER INSERT ON users BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER users_data_version_update AFTER UPDATE ON users BEGIN UPDATE data_version SET version = version + 1; END;
CREATE TRIGGER users_data_version_delete AFTER DELETE ON users BEGIN UPDATE data_version SET version = version + 1; END;
