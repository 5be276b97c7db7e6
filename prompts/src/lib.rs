//! Prompts for ura: the built-in prompt set, decoded and encoded once to
//! ready-to-play G.711 frames shared by every call that plays them, and the
//! pipeline that turns uploaded WAV/MP3 files into such prompts:
//! [`decode`] (probe by content, decode, mix to mono) → [`resample`] (to
//! 8 kHz) → [`pipeline`] (limits, trimming, normalising, G.711 encoding) →
//! [`library`] (content-addressed storage on disk).

use std::collections::HashMap;
use std::io::Cursor;

use ura_media::prompt::PromptFrames;

pub mod decode;
mod error;
pub mod library;
pub mod pipeline;
pub mod resample;

pub use error::PromptError;
pub use library::{PromptLibrary, StoredPrompt};
pub use pipeline::{import, ImportOptions, Imported};

macro_rules! builtin {
    ($dir:literal; $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../builtin/", $dir, "/", $name, ".wav")) as &[u8])),*]
    };
}

/// The spoken built-in prompts: each language folder has all of them.
macro_rules! speech {
    ($dir:literal) => {
        builtin!($dir;
            "echo-welcome",
            "goodbye",
            "digit-0",
            "digit-1",
            "digit-2",
            "digit-3",
            "digit-4",
            "digit-5",
            "digit-6",
            "digit-7",
            "digit-8",
            "digit-9",
            "digit-star",
            "digit-hash",
            "digit-A",
            "digit-B",
            "digit-C",
            "digit-D",
            "ivr-welcome",
            "ivr-closed",
            "ivr-invalid",
            "ivr-no-input",
            "ivr-no-answer",
            "ivr-service-closed",
            "menu-para",
            "menu-tecle",
            "menu-operator",
            "label-vendas",
            "label-suporte",
            "label-financeiro",
            "next-opening",
            "day-today",
            "day-tomorrow",
            "weekday-0",
            "weekday-1",
            "weekday-2",
            "weekday-3",
            "weekday-4",
            "weekday-5",
            "weekday-6",
            "hour-0",
            "hour-1",
            "hour-2",
            "hour-3",
            "hour-4",
            "hour-5",
            "hour-6",
            "hour-7",
            "hour-8",
            "hour-9",
            "hour-10",
            "hour-11",
            "hour-12",
            "hour-13",
            "hour-14",
            "hour-15",
            "hour-16",
            "hour-17",
            "hour-18",
            "hour-19",
            "hour-20",
            "hour-21",
            "hour-22",
            "hour-23",
            "minute-5",
            "minute-10",
            "minute-15",
            "minute-20",
            "minute-25",
            "minute-30",
            "minute-35",
            "minute-40",
            "minute-45",
            "minute-50",
            "minute-55",
            "rec-ask-pin",
            "rec-bad-pin",
            "rec-instructions",
            "rec-menu",
            "rec-ask-number",
            "rec-saved",
            "queue-position-1",
            "queue-position-2",
            "queue-position-3",
            "queue-position-4",
            "queue-position-5",
            "queue-position-6",
            "queue-position-7",
            "queue-position-8",
            "queue-position-9",
            "queue-position-10",
            "queue-position-more",
            "queue-wait",
            "wait-1",
            "wait-2",
            "wait-3",
            "wait-4",
            "wait-5",
            "wait-6",
            "wait-7",
            "wait-8",
            "wait-9",
            "wait-10",
            "wait-15",
            "wait-20",
            "wait-30",
            "wait-more",
            "queue-please-hold",
            "agent-login",
            "agent-logout",
            "agent-pause",
            "agent-resume",
            "agent-not-agent",
            "transfer",
            "queue-callback",
            "queue-offer-callback",
            "queue-offer-message",
            "queue-message-saved",
            "internal-unavailable",
        )
    };
}

/// The built-in prompts, shipped inside the binary (made once by
/// `prompts/builtin/make.sh` with espeak-ng and sox; not needed at run time).
const PT_BR: &[(&str, &[u8])] = speech!("pt-BR");
/// The English set.
const EN: &[(&str, &[u8])] = speech!("en");
/// Sounds without words, shared by every language.
const SOUNDS: &[(&str, &[u8])] = builtin!("pt-BR"; "hold-music", "beep", "ringback");

/// The built-in prompt set, encoded once.
#[derive(Debug, Clone)]
pub struct BuiltinPrompts {
    /// pt-BR, and the shared sounds.
    prompts: HashMap<&'static str, PromptFrames>,
    /// English.
    en: HashMap<&'static str, PromptFrames>,
}

/// The built-in languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuiltinLanguage {
    /// Brazilian Portuguese (the default).
    #[default]
    PtBr,
    /// English.
    En,
}

impl BuiltinLanguage {
    /// From a language tag: `en`, `en-US` … are English; anything else pt-BR.
    pub fn from_tag(tag: &str) -> BuiltinLanguage {
        if tag.to_ascii_lowercase().starts_with("en") {
            BuiltinLanguage::En
        } else {
            BuiltinLanguage::PtBr
        }
    }
}

fn load_set(
    set: &[(&'static str, &[u8])],
) -> Result<HashMap<&'static str, PromptFrames>, PromptError> {
    set.iter()
        .map(|(name, bytes)| Ok((*name, PromptFrames::from_pcm(&read_wav_8k(name, bytes)?))))
        .collect()
}

fn digit_name(key: char) -> String {
    match key {
        '*' => "digit-star".to_string(),
        '#' => "digit-hash".to_string(),
        c => format!("digit-{}", c.to_ascii_uppercase()),
    }
}

impl BuiltinPrompts {
    /// Decodes and encodes every built-in prompt.
    pub fn load() -> Result<BuiltinPrompts, PromptError> {
        let mut prompts = load_set(PT_BR)?;
        prompts.extend(load_set(SOUNDS)?);
        Ok(BuiltinPrompts {
            prompts,
            en: load_set(EN)?,
        })
    }

    /// A pt-BR prompt by name (`echo-welcome`, `goodbye`, `digit-5`, …).
    pub fn get(&self, name: &str) -> Option<&PromptFrames> {
        self.prompts.get(name)
    }

    /// A prompt in a language; pt-BR when that language has no such prompt
    /// (sounds such as `hold-music` and `beep` are shared).
    pub fn get_in(&self, lang: BuiltinLanguage, name: &str) -> Option<&PromptFrames> {
        match lang {
            BuiltinLanguage::En => self.en.get(name).or_else(|| self.prompts.get(name)),
            BuiltinLanguage::PtBr => self.prompts.get(name),
        }
    }

    /// The spoken pt-BR digit for a DTMF key (`0`-`9`, `*`, `#`, `A`-`D`).
    pub fn digit(&self, key: char) -> Option<&PromptFrames> {
        self.prompts.get(digit_name(key).as_str())
    }

    /// The spoken digit in a language.
    pub fn digit_in(&self, lang: BuiltinLanguage, key: char) -> Option<&PromptFrames> {
        self.get_in(lang, &digit_name(key))
    }

    /// Names of all prompts.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.prompts.keys().copied()
    }
}

/// Reads an 8 kHz, 16-bit mono WAV into samples.
fn read_wav_8k(name: &str, bytes: &[u8]) -> Result<Vec<i16>, PromptError> {
    let bad = |reason: String| PromptError::BadAudio {
        name: name.to_string(),
        reason,
    };
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(bad(format!("want 8 kHz 16-bit mono, got {spec:?}")));
    }
    reader
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ura_media::g711::Codec;

    #[test]
    fn every_builtin_prompt_loads_with_sound_in_it() {
        let p = BuiltinPrompts::load().unwrap();
        assert_eq!(p.names().count(), PT_BR.len() + SOUNDS.len());
        assert_eq!(
            EN.len(),
            PT_BR.len(),
            "every spoken prompt exists in both languages"
        );
        let en = BuiltinLanguage::from_tag("en-US");
        for (name, _) in PT_BR {
            let (pt, en) = (p.get(name).unwrap(), p.get_in(en, name).unwrap());
            assert!(
                !pt.ptr_eq(en),
                "{name}: the English one is another recording"
            );
        }
        assert!(p
            .get_in(en, "hold-music")
            .unwrap()
            .ptr_eq(p.get("hold-music").unwrap()));
        assert_ne!(
            p.digit_in(en, '5').unwrap().bytes(Codec::Pcmu),
            p.digit('5').unwrap().bytes(Codec::Pcmu)
        );
        for key in "0123456789*#ABCD".chars() {
            let d = p.digit(key).unwrap_or_else(|| panic!("digit {key}"));
            assert!(d.frame_count() >= 10, "{key}: {} frames", d.frame_count());
        }
        let welcome = p.get("echo-welcome").unwrap();
        // 6.75 s of speech: 338 frames of 20 ms.
        assert_eq!(welcome.frame_count(), 338);
        // Not silence: plenty of µ-law codes away from the zero codes.
        let loud = welcome
            .bytes(Codec::Pcmu)
            .iter()
            .filter(|b| (**b & 0x7f) < 0x60)
            .count();
        assert!(loud > 10_000, "only {loud} loud samples");
    }
}
