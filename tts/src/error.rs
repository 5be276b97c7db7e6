//! The one error type of this crate.

use std::time::Duration;

/// Everything that can go wrong while turning text into audio.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The text is empty or only whitespace.
    #[error("nothing to say: the text is empty")]
    EmptyText,
    /// The text is longer than the engine accepts.
    #[error("text too long: {len} characters, at most {max}")]
    TextTooLong {
        /// Length of the text in characters.
        len: usize,
        /// The limit in characters.
        max: usize,
    },
    /// A voice string that is neither a known language nor a valid voice name.
    #[error("invalid voice {0:?}: use pt-BR, pt-PT, en-US, es or an engine voice name (letters, digits, - _ + . :)")]
    InvalidVoice(String),
    /// A speaking rate outside the accepted range.
    #[error("speaking rate {wpm} wpm out of range {min}..={max}")]
    RateOutOfRange {
        /// The rejected rate in words per minute.
        wpm: u32,
        /// Lowest accepted rate.
        min: u32,
        /// Highest accepted rate.
        max: u32,
    },
    /// The engine's program is not installed.
    #[error("{engine} is not installed: {hint}")]
    EngineMissing {
        /// Engine id.
        engine: String,
        /// What to do about it.
        hint: String,
    },
    /// The engine ran but failed.
    #[error("{engine} failed: {detail}")]
    EngineFailed {
        /// Engine id.
        engine: String,
        /// Exit status, stderr excerpt or other detail.
        detail: String,
    },
    /// The engine did not answer in time (the subprocess was killed / the request dropped).
    #[error("{engine} timed out after {after:?}")]
    Timeout {
        /// Engine id.
        engine: String,
        /// The time limit that was hit.
        after: Duration,
    },
    /// The HTTP service answered with a non-success status.
    #[error("TTS service answered HTTP {status}: {body}")]
    HttpStatus {
        /// HTTP status code.
        status: u16,
        /// Start of the response body, lossily decoded.
        body: String,
    },
    /// The HTTP service could not be reached or the exchange broke.
    #[error("TTS service transport error: {0}")]
    Transport(String),
    /// Bytes that should have been audio are not (bad WAV, odd PCM length, text body...).
    #[error("not usable audio: {0}")]
    BadAudio(String),
    /// Invalid engine configuration.
    #[error("invalid TTS configuration: {0}")]
    Config(String),
    /// A file-system operation failed (cache directory, cache files).
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl TtsError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TtsError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Lossy, length-bounded text excerpt for error messages.
pub(crate) fn excerpt(bytes: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out.trim().to_string()
}
