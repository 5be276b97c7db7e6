//! Admins' prompts: import an upload, save a recording, list them, and load
//! them all when ura starts. Audio goes to the content-addressed library in
//! the data directory; metadata to the store.

use std::io::Cursor;
use std::path::Path;

use ura_media::PromptFrames;
use ura_prompts::{import, ImportOptions, Imported, PromptLibrary};
use ura_store::{PromptRecord, PromptSource, Store};

use crate::error::UraError;

/// Where a prompt's audio lives, under the data directory.
pub fn library(data_dir: &Path) -> Result<PromptLibrary, UraError> {
    PromptLibrary::open(data_dir.join("prompts")).map_err(UraError::from)
}

/// Uploads and recordings: peak to −3 dBFS and silence trimmed.
pub fn import_options() -> ImportOptions {
    ImportOptions {
        normalize: Some(-3.0),
        trim_silence: true,
        ..ImportOptions::default()
    }
}

/// 8 kHz mono samples as a WAV file (how recordings are kept as originals).
pub fn wav_bytes(pcm: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    if let Ok(mut w) = hound::WavWriter::new(&mut out, spec) {
        for s in pcm {
            let _ = w.write_sample(*s);
        }
        let _ = w.finalize();
    }
    out.into_inner()
}

/// What to record about a new prompt besides its audio.
#[derive(Debug, Clone)]
pub struct NewPrompt {
    /// Its name.
    pub name: String,
    /// Language tag.
    pub language: String,
    /// Where it came from.
    pub source: PromptSource,
    /// TTS: text, voice, rate.
    pub tts: Option<(String, String, String)>,
}

/// Refuses a prompt name that is not 1-64 letters, digits, `-`, `_` or `.`
/// (no `/`, no `..`, no control characters, not empty), saying the rule.
pub fn check_name(name: &str) -> Result<(), UraError> {
    let ok = (1..=64).contains(&name.len())
        && name != "."
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(UraError::Refused(format!(
            "prompt name {name:?}: use 1-64 letters, digits, '-', '_' or '.' (no '..')"
        )))
    }
}

/// Decodes `bytes` (a WAV or MP3), stores audio and metadata; returns the
/// metadata and the ready frames. Refusals name the reason and store nothing.
pub async fn save(
    store: &Store,
    library: &PromptLibrary,
    bytes: Vec<u8>,
    meta: NewPrompt,
) -> Result<(PromptRecord, PromptFrames), UraError> {
    save_for(store, library, bytes, meta, "").await
}

/// [`save`] for a company (`""`: the whole installation).
pub async fn save_for(
    store: &Store,
    library: &PromptLibrary,
    bytes: Vec<u8>,
    meta: NewPrompt,
    company: &str,
) -> Result<(PromptRecord, PromptFrames), UraError> {
    check_name(&meta.name)?;
    let lib = library.clone();
    let (imported, stored) = tokio::task::spawn_blocking(move || -> Result<_, UraError> {
        let imported: Imported = import(&bytes, &import_options())?;
        let stored = lib.store(&bytes, &imported)?;
        Ok((imported, stored))
    })
    .await
    .map_err(|e| UraError::Config(format!("prompt import task: {e}")))??;
    let (tts_text, tts_voice, tts_rate) = match meta.tts {
        Some((t, v, r)) => (Some(t), Some(v), Some(r)),
        None => (None, None, None),
    };
    let mut record = PromptRecord {
        id: 0,
        name: meta.name,
        company: company.to_string(),
        language: meta.language,
        duration_ms: imported.duration.as_millis() as i64,
        source: meta.source,
        tts_text,
        tts_voice,
        tts_rate,
        original_hash: Some(stored.original_hash),
        audio_hash: stored.hash,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    record.id = store.save_prompt(&record).await?;
    Ok((record, imported.frames))
}

/// Every stored prompt, ready to play (those whose audio is missing are skipped with a warning).
pub async fn load_all(
    store: &Store,
    library: &PromptLibrary,
) -> Result<Vec<(String, PromptFrames)>, UraError> {
    let mut out = Vec::new();
    for p in store.list_prompts().await? {
        match library.load(&p.audio_hash) {
            Ok(frames) => out.push((p.name, frames)),
            Err(e) => tracing::warn!(prompt = %p.name, error = %e, "prompt audio missing; skipped"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_names_follow_the_rule() {
        for good in ["boas-vindas", "menu_1", "v2.0", "1", &"a".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a..b",
            "tab\there",
            "olá",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("1-64 letters"), "{bad}: {err}");
        }
    }
}
