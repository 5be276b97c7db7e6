//! Voices: a language ura knows, or an engine-specific voice name.

use std::fmt;
use std::str::FromStr;

use crate::error::TtsError;

/// Longest engine voice name accepted.
pub const MAX_VOICE_NAME: usize = 64;

/// Languages ura ships prompts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Brazilian Portuguese.
    PtBr,
    /// European Portuguese.
    PtPt,
    /// American English.
    EnUs,
    /// Spanish.
    Es,
}

impl Language {
    /// All languages, in a stable order.
    pub const ALL: [Language; 4] = [Language::PtBr, Language::PtPt, Language::EnUs, Language::Es];

    /// The canonical tag: `pt-BR`, `pt-PT`, `en-US`, `es`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::PtBr => "pt-BR",
            Language::PtPt => "pt-PT",
            Language::EnUs => "en-US",
            Language::Es => "es",
        }
    }

    /// Parses a language tag, case-insensitively, with `-` or `_`.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let norm = tag.trim().to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "pt-br" => Some(Language::PtBr),
            "pt-pt" | "pt" => Some(Language::PtPt),
            "en-us" | "en" => Some(Language::EnUs),
            "es" | "es-es" => Some(Language::Es),
            _ => None,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// The voice to speak with.
///
/// Parsed with [`str::parse`]: a language tag (`pt-br`, `pt-BR`, `pt-pt`, `en-us`, `es`,
/// case-insensitive) gives [`Voice::Language`], which each engine maps to its own
/// voice; anything else made of ASCII letters, digits and `- _ + . :` (up to
/// [`MAX_VOICE_NAME`] characters) is passed to the engine as-is, e.g. `pt-br+f3` for
/// espeak-ng or `pt-BR-FranciscaNeural` for a cloud service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Voice {
    /// The engine's default voice for a language.
    Language(Language),
    /// An engine-specific voice name, already validated.
    Named(String),
}

impl Voice {
    /// The language, when the voice was chosen by language.
    pub fn language(&self) -> Option<Language> {
        match self {
            Voice::Language(l) => Some(*l),
            Voice::Named(_) => None,
        }
    }
}

impl From<Language> for Voice {
    fn from(l: Language) -> Self {
        Voice::Language(l)
    }
}

impl FromStr for Voice {
    type Err = TtsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(l) = Language::from_tag(s) {
            return Ok(Voice::Language(l));
        }
        let name = s.trim();
        let valid = !name.is_empty()
            && name.len() <= MAX_VOICE_NAME
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+.:".contains(c));
        if valid {
            Ok(Voice::Named(name.to_string()))
        } else {
            Err(TtsError::InvalidVoice(s.chars().take(80).collect()))
        }
    }
}

impl fmt::Display for Voice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Voice::Language(l) => f.write_str(l.tag()),
            Voice::Named(n) => f.write_str(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_parse_case_insensitively() {
        for (s, l) in [
            ("pt-br", Language::PtBr),
            ("pt-BR", Language::PtBr),
            ("PT_br", Language::PtBr),
            ("pt-pt", Language::PtPt),
            ("pt-PT", Language::PtPt),
            ("en-us", Language::EnUs),
            ("EN-US", Language::EnUs),
            ("es", Language::Es),
            ("ES", Language::Es),
        ] {
            assert_eq!(s.parse::<Voice>().unwrap(), Voice::Language(l), "{s}");
        }
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for l in Language::ALL {
            let v = Voice::from(l);
            assert_eq!(v.to_string().parse::<Voice>().unwrap(), v);
        }
        assert_eq!("pt-br".parse::<Voice>().unwrap().to_string(), "pt-BR");
    }

    #[test]
    fn engine_names_are_kept_verbatim() {
        let v: Voice = "pt-BR-FranciscaNeural".parse().unwrap();
        assert_eq!(v, Voice::Named("pt-BR-FranciscaNeural".into()));
        assert_eq!(v.language(), None);
        let v: Voice = "pt-br+f3".parse().unwrap();
        assert_eq!(v.to_string(), "pt-br+f3");
    }

    #[test]
    fn bad_names_are_rejected() {
        for s in ["", "  ", "-s", "a b", "x;rm -rf", "é", &"a".repeat(65)] {
            assert!(
                matches!(s.parse::<Voice>(), Err(TtsError::InvalidVoice(_))),
                "{s:?} accepted"
            );
        }
    }
}
