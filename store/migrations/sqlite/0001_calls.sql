-- Call records: one row per call, written when the call ends.
CREATE TABLE calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sip_call_id   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    answered_at   TEXT,
    ended_at      TEXT NOT NULL,
    caller        TEXT NOT NULL,
    number        TEXT NOT NULL,
    schedule      TEXT,
    digits        TEXT NOT NULL DEFAULT '',
    service       TEXT,
    hangup_cause  TEXT NOT NULL,
    hangup_side   TEXT NOT NULL
);
CREATE INDEX calls_started_at ON calls (started_at);
