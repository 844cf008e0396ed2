-- Goals per segment (postgres). Keep in step with ../sqlite/0005_goal_segments.sql.
-- A goal is for the whole company (segment '') or for one value of a report
-- dimension, written dimension=value ('region=EMEA').
ALTER TABLE goals ADD COLUMN segment TEXT NOT NULL DEFAULT '';
DROP INDEX goals_period_key;
CREATE UNIQUE INDEX goals_period_segment_key ON goals (period, segment);
