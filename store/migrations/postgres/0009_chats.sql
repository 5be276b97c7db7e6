-- Web chat conversations, written when they end: who, where, how it
-- ended, and every message (JSON). Numbered 0009: 0008 is taken by the
-- outgoing webhooks being added beside this.
CREATE TABLE chats (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL,
    visitor     TEXT NOT NULL,
    queue       TEXT,
    agent       TEXT,
    outcome     TEXT NOT NULL,
    messages    TEXT NOT NULL
);
CREATE INDEX chats_started ON chats (started_at);
