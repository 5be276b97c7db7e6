//! Content-addressed storage of imported prompts on disk.
//!
//! Layout under the library's root directory:
//!
//! - `originals/<sha256 of the upload>.<wav|mp3>`: the file as uploaded;
//! - `frames/<hash>.pcmu` and `frames/<hash>.pcma`: the ready-to-play raw
//!   G.711 frames (a multiple of 160 bytes), for tools and inspection;
//! - `frames/<hash>.s16`: the 8 kHz audio as 16-bit little-endian samples,
//!   from which [`PromptLibrary::load`] rebuilds the frames with
//!   `PromptFrames::from_pcm`. That is exact (the same bytes as at import
//!   time), where rebuilding from the µ-law bytes would not be: G.711 has
//!   two codes for zero, and A-law re-encoded from µ-law loses precision.
//!
//! `<hash>` is the SHA-256 of the `.s16` contents, so the same audio is
//! stored once however often it is uploaded, and [`PromptLibrary::load`]
//! can tell a damaged file. Every file is written to a temporary name,
//! synced and renamed into place, so a crash never leaves half a file under
//! a final name; the `.s16` file is written last and marks a complete entry.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use ura_media::g711::Codec;
use ura_media::prompt::PromptFrames;

use crate::pipeline::Imported;
use crate::PromptError;

/// A directory of stored prompts.
#[derive(Debug, Clone)]
pub struct PromptLibrary {
    root: PathBuf,
}

/// Where [`PromptLibrary::store`] put a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrompt {
    /// SHA-256 of the 8 kHz audio, hex: the key for [`PromptLibrary::load`].
    pub hash: String,
    /// SHA-256 of the uploaded file, hex.
    pub original_hash: String,
    /// The uploaded file as stored.
    pub original: PathBuf,
    /// The raw PCMU frames.
    pub pcmu: PathBuf,
    /// The raw PCMA frames.
    pub pcma: PathBuf,
    /// Whether this call wrote the frames (false: they were already stored).
    pub newly_stored: bool,
}

impl PromptLibrary {
    /// Opens (creating if needed) the library under `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<PromptLibrary, PromptError> {
        let root = dir.as_ref().to_path_buf();
        for sub in ["originals", "frames"] {
            let path = root.join(sub);
            fs::create_dir_all(&path).map_err(|source| PromptError::Io { path, source })?;
        }
        Ok(PromptLibrary { root })
    }

    /// The library's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `original` (the uploaded bytes) and the frames of `imported`
    /// (what [`import`](crate::import) made of them). Storing the same
    /// content again writes nothing and returns the same hash.
    pub fn store(&self, original: &[u8], imported: &Imported) -> Result<StoredPrompt, PromptError> {
        let pcm: Vec<u8> = imported
            .pcm_8k
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let hash = hex_sha256(&pcm);
        let original_hash = hex_sha256(original);
        let stored = StoredPrompt {
            original: self
                .root
                .join("originals")
                .join(format!("{original_hash}.{}", imported.format)),
            pcmu: self.frames_path(&hash, "pcmu"),
            pcma: self.frames_path(&hash, "pcma"),
            newly_stored: !self.frames_path(&hash, "s16").exists(),
            hash,
            original_hash,
        };
        write_once(&stored.original, original)?;
        if stored.newly_stored {
            write_once(&stored.pcmu, imported.frames.bytes(Codec::Pcmu))?;
            write_once(&stored.pcma, imported.frames.bytes(Codec::Pcma))?;
            write_once(&self.frames_path(&stored.hash, "s16"), &pcm)?;
        }
        Ok(stored)
    }

    /// Whether a complete prompt with this hash is stored.
    pub fn contains(&self, hash: &str) -> bool {
        is_hash(hash) && self.frames_path(hash, "s16").is_file()
    }

    /// Rebuilds the frames of the prompt stored under `hash`.
    pub fn load(&self, hash: &str) -> Result<PromptFrames, PromptError> {
        Ok(PromptFrames::from_pcm(&self.load_pcm(hash)?))
    }

    /// Reads the 8 kHz audio stored under `hash`, checking it against the
    /// hash.
    pub fn load_pcm(&self, hash: &str) -> Result<Vec<i16>, PromptError> {
        if !is_hash(hash) {
            return Err(PromptError::BadHash {
                hash: hash.to_string(),
            });
        }
        let path = self.frames_path(hash, "s16");
        let bytes = fs::read(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => PromptError::NotFound {
                hash: hash.to_string(),
            },
            _ => PromptError::Io { path, source },
        })?;
        if bytes.len() % 2 != 0 || hex_sha256(&bytes) != hash {
            return Err(PromptError::Corrupt {
                reason: format!("stored prompt {hash} does not match its hash"),
            });
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect())
    }

    fn frames_path(&self, hash: &str, ext: &str) -> PathBuf {
        self.root.join("frames").join(format!("{hash}.{ext}"))
    }
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes `bytes` to `path` unless it exists: to a temporary file in the
/// same directory first, synced, then renamed into place.
fn write_once(path: &Path, bytes: &[u8]) -> Result<(), PromptError> {
    if path.exists() {
        return Ok(());
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("prompt");
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            // Makes the rename itself durable; not possible everywhere.
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    })();
    written.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        PromptError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_checked_before_touching_the_disk() {
        assert!(is_hash(&hex_sha256(b"")));
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for bad in ["", "../../etc/passwd", &"A".repeat(64), &"0".repeat(63)] {
            assert!(!is_hash(bad), "{bad}");
        }
    }
}
