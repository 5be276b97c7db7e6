-- Prompts: uploaded files, synthesized text and recordings. The audio itself
-- lives in the data directory, content-addressed by the hashes below.
CREATE TABLE prompts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    company        TEXT NOT NULL DEFAULT '',
    language       TEXT NOT NULL DEFAULT 'pt-BR',
    duration_ms    BIGINT NOT NULL,
    source         TEXT NOT NULL,
    tts_text       TEXT,
    tts_voice      TEXT,
    tts_rate       TEXT,
    original_hash  TEXT,
    audio_hash     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (company, name)
);
