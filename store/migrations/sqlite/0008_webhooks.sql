-- Outgoing webhooks per company (company NULL: a super-admin's, every
-- company's events) and their delivery log: one row per event and webhook,
-- kept from the event on, so pending retries outlive a restart. Times are
-- milliseconds since the Unix epoch.
CREATE TABLE webhooks (
    id          TEXT NOT NULL PRIMARY KEY,
    company     TEXT,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE webhook_deliveries (
    id          TEXT NOT NULL PRIMARY KEY,
    webhook     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    next_ms     INTEGER,
    last_ms     INTEGER,
    last_code   INTEGER,
    last_error  TEXT
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook, created_ms);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status);
