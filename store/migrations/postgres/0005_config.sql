-- Store mode: the configuration (numbers, schedules, services, IVRs,
-- queues, agents) as one JSON document per object, with a version for
-- If-Match; the companies (tenants) they belong to; the admin API's keys
-- (only a hash of each is kept).
CREATE TABLE companies (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE config_docs (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    company     TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE api_keys (
    prefix      TEXT NOT NULL PRIMARY KEY,
    company     TEXT,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
