//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong reading, importing or storing prompts.
///
/// Every refusal of an upload names what is wrong with it, so the admin
/// interface can show the reason as is.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// A built-in prompt is not a WAV we can read.
    #[error("prompt {name}: {reason}")]
    BadAudio {
        /// Prompt name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The upload has no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// The upload is bigger than allowed.
    #[error("the file has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Size of the upload in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The audio plays longer than allowed. Decided while decoding: decoding
    /// stops as soon as the limit is passed (or before it starts, when the
    /// file declares its length).
    #[error("the audio lasts at least {at_least:?}, more than the limit of {limit:?}")]
    TooLong {
        /// The limit.
        limit: Duration,
        /// How long the audio is known to be when decoding stopped.
        at_least: Duration,
    },
    /// The content is not a WAV or MP3 file, whatever its name says.
    #[error("the file is not WAV or MP3 audio")]
    NotAudio,
    /// The container is readable but its audio codec is not supported.
    #[error("unsupported audio codec: {codec}")]
    Unsupported {
        /// The codec (or codec feature) that is not supported.
        codec: String,
    },
    /// The sample rate is outside 8–48 kHz.
    #[error("unsupported sample rate {rate} Hz (8000 to 48000 Hz accepted)")]
    BadSampleRate {
        /// The file's sample rate in Hz (0 if it declares none).
        rate: u32,
    },
    /// The file ends before the audio it declares.
    #[error("the file is truncated: it ends in the middle of the audio")]
    Truncated,
    /// The file is damaged.
    #[error("the file is corrupt: {reason}")]
    Corrupt {
        /// What the decoder found wrong.
        reason: String,
    },
    /// The resampler refused its input (a bug, never the upload's fault).
    #[error("resampling failed: {reason}")]
    Resample {
        /// The resampler's message.
        reason: String,
    },
    /// Trimming silence left nothing: the audio is silent throughout.
    #[error("the audio is silent throughout")]
    Silent,
    /// A prompt hash is not 64 lowercase hexadecimal digits.
    #[error("not a prompt hash: {hash:?}")]
    BadHash {
        /// The rejected text.
        hash: String,
    },
    /// No prompt with this hash in the library.
    #[error("no stored prompt {hash}")]
    NotFound {
        /// The hash looked up.
        hash: String,
    },
    /// Reading or writing the prompt library failed.
    #[error("prompt library {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
