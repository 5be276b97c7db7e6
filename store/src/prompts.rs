//! Prompt metadata: name, company, language, duration, where it came from
//! (upload, text to speech, recording) and, for TTS, its text, voice and rate.
//! The audio is content-addressed on disk; rows hold its hashes.

use sqlx::Row;

use crate::{Store, StoreError};

/// Where a prompt's audio came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptSource {
    /// An uploaded mp3/wav.
    Upload,
    /// Text to speech.
    Tts,
    /// Recorded (by phone or microphone).
    Recording,
}

impl PromptSource {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptSource::Upload => "upload",
            PromptSource::Tts => "tts",
            PromptSource::Recording => "recording",
        }
    }

    fn parse(s: &str) -> PromptSource {
        match s {
            "tts" => PromptSource::Tts,
            "recording" => PromptSource::Recording,
            _ => PromptSource::Upload,
        }
    }
}

/// One prompt's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRecord {
    /// Row id (0 before insert).
    pub id: i64,
    /// Name, unique within its company.
    pub name: String,
    /// Company ('' for the whole installation).
    pub company: String,
    /// Language tag (`pt-BR`).
    pub language: String,
    /// Length in milliseconds.
    pub duration_ms: i64,
    /// Where it came from.
    pub source: PromptSource,
    /// TTS: the text.
    pub tts_text: Option<String>,
    /// TTS: the voice.
    pub tts_voice: Option<String>,
    /// TTS: the rate.
    pub tts_rate: Option<String>,
    /// Hash of the original upload, if any.
    pub original_hash: Option<String>,
    /// Hash of the 8 kHz audio the frames are made from.
    pub audio_hash: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const COLUMNS: &str =
    "id, name, company, language, duration_ms, source, tts_text, tts_voice, tts_rate, \
                       original_hash, audio_hash, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<PromptRecord, sqlx::Error> {
    Ok(PromptRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        company: row.try_get(2)?,
        language: row.try_get(3)?,
        duration_ms: row.try_get(4)?,
        source: PromptSource::parse(&row.try_get::<String, _>(5)?),
        tts_text: row.try_get(6)?,
        tts_voice: row.try_get(7)?,
        tts_rate: row.try_get(8)?,
        original_hash: row.try_get(9)?,
        audio_hash: row.try_get(10)?,
        created_at: row.try_get(11)?,
    })
}

impl Store {
    /// Saves a prompt, replacing one with the same company and name; returns its id.
    pub async fn save_prompt(&self, p: &PromptRecord) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM prompts WHERE company = $1 AND name = $2")
            .bind(&p.company)
            .bind(&p.name)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO prompts (name, company, language, duration_ms, source, tts_text, tts_voice, tts_rate, \
             original_hash, audio_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&p.name)
        .bind(&p.company)
        .bind(&p.language)
        .bind(p.duration_ms)
        .bind(p.source.as_str())
        .bind(&p.tts_text)
        .bind(&p.tts_voice)
        .bind(&p.tts_rate)
        .bind(&p.original_hash)
        .bind(&p.audio_hash)
        .bind(&p.created_at)
        .fetch_one(&mut *tx)
        .await?;
        let id = row.try_get::<i64, _>(0)?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every prompt, by company then name.
    pub async fn list_prompts(&self) -> Result<Vec<PromptRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM prompts ORDER BY company, name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Deletes a prompt; false when there was none.
    pub async fn delete_prompt(&self, company: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM prompts WHERE company = $1 AND name = $2")
            .bind(company)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A prompt by company and name.
    pub async fn find_prompt(
        &self,
        company: &str,
        name: &str,
    ) -> Result<Option<PromptRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM prompts WHERE company = $1 AND name = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(company)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(name: &str, source: PromptSource) -> PromptRecord {
        PromptRecord {
            id: 0,
            name: name.into(),
            company: "acme".into(),
            language: "pt-BR".into(),
            duration_ms: 2500,
            source,
            tts_text: (source == PromptSource::Tts).then(|| "Bem-vindo".to_string()),
            tts_voice: (source == PromptSource::Tts).then(|| "pt-br".to_string()),
            tts_rate: (source == PromptSource::Tts).then(|| "160".to_string()),
            original_hash: (source == PromptSource::Upload).then(|| "abc".to_string()),
            audio_hash: format!("hash-{name}"),
            created_at: "2026-11-23T10:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn prompts_are_saved_replaced_and_listed() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        store
            .save_prompt(&prompt("welcome", PromptSource::Upload))
            .await
            .unwrap();
        store
            .save_prompt(&prompt("closed", PromptSource::Tts))
            .await
            .unwrap();
        let mut again = prompt("welcome", PromptSource::Recording);
        again.duration_ms = 999;
        let id = store.save_prompt(&again).await.unwrap();
        let all = store.list_prompts().await.unwrap();
        assert_eq!(all.len(), 2, "same name replaces");
        assert_eq!(all[0].name, "closed");
        assert_eq!(all[0].tts_text.as_deref(), Some("Bem-vindo"));
        let w = store.find_prompt("acme", "welcome").await.unwrap().unwrap();
        assert_eq!(w, PromptRecord { id, ..again });
        assert!(store.find_prompt("acme", "nope").await.unwrap().is_none());
        assert!(store
            .find_prompt("other", "welcome")
            .await
            .unwrap()
            .is_none());
    }
}
