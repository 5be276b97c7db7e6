-- Agents' softphone registrations, kept across a restart.
CREATE TABLE registrations (
    agent       TEXT NOT NULL,
    contact     TEXT NOT NULL,
    transport   TEXT NOT NULL,
    remote      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (agent, contact)
);
