-- Every request writes a log entry, so each index on _logs is paid for on every request.
-- The message index served almost no filter (`~` cannot use it) and the per-hour
-- expression index computed strftime() on every insert; a plain index on `created` serves
-- the time-range filters of the viewer and of /api/logs/stats.
DROP INDEX IF EXISTS idx_logs_message;
DROP INDEX IF EXISTS idx_logs_created_hour;
CREATE INDEX idx_logs_created ON _logs (created);

-- migrate:down
DROP INDEX IF EXISTS idx_logs_created;
CREATE INDEX idx_logs_message ON _logs (message);
CREATE INDEX idx_logs_created_hour ON _logs (strftime('%Y-%m-%d %H:00:00', created));
