-- What happened in an agent queue (issue 11): all NULL for calls that
-- never reached one.
ALTER TABLE calls ADD COLUMN queue TEXT;
ALTER TABLE calls ADD COLUMN queue_entered_at TEXT;
ALTER TABLE calls ADD COLUMN queue_left_at TEXT;
ALTER TABLE calls ADD COLUMN queue_outcome TEXT;
ALTER TABLE calls ADD COLUMN wait_ms BIGINT;
ALTER TABLE calls ADD COLUMN agent TEXT;
ALTER TABLE calls ADD COLUMN ring_attempts INTEGER;
ALTER TABLE calls ADD COLUMN talk_ms BIGINT;
ALTER TABLE calls ADD COLUMN hold_ms BIGINT;
ALTER TABLE calls ADD COLUMN transfer TEXT;
ALTER TABLE calls ADD COLUMN recording TEXT;
