//! The [`Synthesizer`] trait every engine implements.

use crate::audio::Audio;
use crate::error::TtsError;
use crate::rate::Rate;
use crate::voice::Voice;

/// Longest text any engine of this crate accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 5_000;

/// Turns text into mono 16-bit audio.
///
/// Calls block (a subprocess or an HTTP request): the engine runs them on
/// `tokio::task::spawn_blocking`. The trait is object-safe, so engines can be
/// chosen at run time as `Box<dyn Synthesizer>`.
pub trait Synthesizer: Send + Sync {
    /// Speaks `text` with `voice` at `rate`.
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError>;

    /// The engine's id, part of the cache key: two engines must not share one.
    fn name(&self) -> &str;
}

impl<S: Synthesizer + ?Sized> Synthesizer for Box<S> {
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        (**self).synthesize(text, voice, rate)
    }

    fn name(&self) -> &str {
        (**self).name()
    }
}

impl<S: Synthesizer + ?Sized> Synthesizer for std::sync::Arc<S> {
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        (**self).synthesize(text, voice, rate)
    }

    fn name(&self) -> &str {
        (**self).name()
    }
}

/// Rejects empty and over-long text; engines call it before doing any work.
pub fn check_text(text: &str) -> Result<(), TtsError> {
    let len = text.chars().count();
    if len > MAX_TEXT_CHARS {
        return Err(TtsError::TextTooLong {
            len,
            max: MAX_TEXT_CHARS,
        });
    }
    if text.trim().is_empty() {
        return Err(TtsError::EmptyText);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits() {
        assert!(check_text("Bem-vindo").is_ok());
        assert!(check_text(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(matches!(
            check_text(&"é".repeat(MAX_TEXT_CHARS + 1)),
            Err(TtsError::TextTooLong {
                len: 5001,
                max: 5000
            })
        ));
        assert!(matches!(check_text(" \n\t"), Err(TtsError::EmptyText)));
    }
}
