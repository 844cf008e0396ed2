-- Each source's own ingestion quota (postgres). Keep in step with
-- ../sqlite/0010_source_quota.sql.

-- Events and bytes a second the source may send; NULL takes the server's
-- quota (source_events_per_second and source_bytes_per_second in
-- smarketing.toml).
ALTER TABLE sources ADD COLUMN events_per_second BIGINT;
ALTER TABLE sources ADD COLUMN bytes_per_second BIGINT;
