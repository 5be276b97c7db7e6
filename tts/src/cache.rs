//! A disk cache of synthesized audio, and [`CachedSynthesizer`] that uses it.
//!
//! Entries are keyed by a SHA-256 of (engine name, voice, rate, text) and stored
//! as `<dir>/<hash>.s16`: the 4 bytes `URA1`, the sample rate (u32 LE), then the
//! samples (i16 LE). Files are written to a temporary name and renamed into
//! place, so readers never see half an entry.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::audio::{Audio, MAX_SAMPLE_RATE};
use crate::error::TtsError;
use crate::rate::Rate;
use crate::synth::Synthesizer;
use crate::voice::Voice;

const MAGIC: &[u8; 4] = b"URA1";
const HEADER_LEN: usize = 8;
const EXTENSION: &str = "s16";

/// Names temporary files uniquely within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Identifies one cached synthesis: the hex SHA-256 of its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key of `text` spoken by engine `engine` with `voice` at `rate`.
    pub fn new(engine: &str, voice: &Voice, rate: Rate, text: &str) -> CacheKey {
        let mut h = Sha256::new();
        h.update(b"ura-tts cache v1\0");
        // Length-prefixed fields: no two different inputs hash the same bytes.
        for field in [engine, &voice.to_string(), &rate.wpm().to_string(), text] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        CacheKey(hex)
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A directory of cached audio.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Uses (and creates if needed) the directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Cache, TtsError> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .map_err(|e| TtsError::io(format!("creating cache dir {}", dir.display()), e))?;
        Ok(Cache { dir })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `key` lives.
    pub fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", key.as_str()))
    }

    /// The cached audio for `key`, `None` when absent. A damaged entry also
    /// reads as `None` (and is overwritten by the next `put`).
    pub fn get(&self, key: &CacheKey) -> Result<Option<Audio>, TtsError> {
        let path = self.path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TtsError::io(format!("reading {}", path.display()), e)),
        };
        let audio = decode_entry(&bytes);
        if audio.is_none() {
            tracing::warn!(path = %path.display(), "ignoring damaged TTS cache entry");
        }
        Ok(audio)
    }

    /// Stores `audio` under `key`, atomically (temporary file + rename).
    pub fn put(&self, key: &CacheKey, audio: &Audio) -> Result<(), TtsError> {
        let path = self.path(key);
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            key.as_str(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut bytes = Vec::with_capacity(HEADER_LEN + 2 * audio.samples.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&audio.sample_rate.to_le_bytes());
        for s in &audio.samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&temp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&temp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&temp);
            TtsError::io(format!("writing {}", path.display()), e)
        })
    }
}

fn decode_entry(bytes: &[u8]) -> Option<Audio> {
    let header = bytes.get(..HEADER_LEN)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let sample_rate = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let body = &bytes[HEADER_LEN..];
    if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE || body.len() % 2 != 0 {
        return None;
    }
    let samples = body
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Some(Audio::new(samples, sample_rate))
}

/// Wraps a synthesizer with a [`Cache`]: a hit returns the stored audio without
/// calling the engine.
///
/// Failing to store a fresh result is logged, not returned: the caller still gets
/// its audio.
#[derive(Debug)]
pub struct CachedSynthesizer<S> {
    inner: S,
    cache: Cache,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<S: Synthesizer> CachedSynthesizer<S> {
    /// Caches `inner`'s results in `cache`.
    pub fn new(inner: S, cache: Cache) -> Self {
        CachedSynthesizer {
            inner,
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The wrapped engine.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The cache in use.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

impl<S: Synthesizer> Synthesizer for CachedSynthesizer<S> {
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        let key = CacheKey::new(self.inner.name(), voice, rate, text);
        if let Some(audio) = self.cache.get(&key)? {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(audio);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let audio = self.inner.synthesize(text, voice, rate)?;
        if let Err(e) = self.cache.put(&key, &audio) {
            tracing::warn!(error = %e, "could not store TTS result in the cache");
        }
        Ok(audio)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::Language;

    #[test]
    fn keys_differ_by_every_field() {
        let v = Voice::Language(Language::PtBr);
        let base = CacheKey::new("espeak-ng", &v, Rate::DEFAULT, "Bem-vindo");
        assert_eq!(base.as_str().len(), 64);
        assert_eq!(
            base,
            CacheKey::new("espeak-ng", &v, Rate::DEFAULT, "Bem-vindo")
        );
        let others = [
            CacheKey::new("http", &v, Rate::DEFAULT, "Bem-vindo"),
            CacheKey::new(
                "espeak-ng",
                &Language::PtPt.into(),
                Rate::DEFAULT,
                "Bem-vindo",
            ),
            CacheKey::new("espeak-ng", &v, Rate::new(161).unwrap(), "Bem-vindo"),
            CacheKey::new("espeak-ng", &v, Rate::DEFAULT, "Bem-vinda"),
            // Moving bytes between fields must not collide.
            CacheKey::new("espeak-n", &v, Rate::DEFAULT, "gBem-vindo"),
        ];
        for k in others {
            assert_ne!(k, base);
        }
    }

    #[test]
    fn damaged_entries_read_as_misses() {
        for bytes in [
            &b""[..],
            b"URA1",
            b"XXXX\x40\x1f\0\0\x01\x00",
            b"URA1\0\0\0\0\x01\x00",
            b"URA1\x40\x1f\0\0\x01",
        ] {
            assert_eq!(decode_entry(bytes), None, "{bytes:?}");
        }
        assert_eq!(
            decode_entry(b"URA1\x40\x1f\0\0\x01\x00\xff\xff"),
            Some(Audio::new(vec![1, -1], 8000))
        );
    }
}
