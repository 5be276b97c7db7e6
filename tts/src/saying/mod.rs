//! Words for numbers, queue positions and waits, in pt-BR and English.
//!
//! Pure functions: the text they return is what changes per call in prompts like
//! "você é o terceiro da fila, espera de cerca de cinco minutos". Such text is
//! synthesized per call through [`crate::CachedSynthesizer`] (the set is
//! open-ended, the cache makes repeats cheap); closed sets — the IVR's
//! next-opening announcement and menu digits — are joined from built-in clips
//! by the engine instead.
//!
//! Numbers come out as words, not digits, so that every engine says them the
//! same way and gender agreement ("uma hora", "duas horas") is right.

mod en;
mod pt_br;

use std::time::Duration;

use crate::voice::Language;

/// Language of a saying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SayLang {
    /// Brazilian Portuguese.
    PtBr,
    /// English (US usage: "one hundred one").
    En,
}

impl SayLang {
    /// The saying language for a voice language, when there is one.
    pub fn for_language(language: Language) -> Option<SayLang> {
        match language {
            Language::PtBr => Some(SayLang::PtBr),
            Language::EnUs => Some(SayLang::En),
            Language::PtPt | Language::Es => None,
        }
    }
}

/// Grammatical gender of the counted noun (matters in Portuguese only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// "um", "dois", "duzentos".
    Masculine,
    /// "uma", "duas", "duzentas".
    Feminine,
}

/// `n` in words, masculine: 23 → "vinte e três" / "twenty-three".
pub fn say_number(n: u32, lang: SayLang) -> String {
    say_number_gendered(n, lang, Gender::Masculine)
}

/// `n` in words agreeing with a noun of `gender`: (2, feminine) → "duas".
pub fn say_number_gendered(n: u32, lang: SayLang, gender: Gender) -> String {
    match lang {
        SayLang::PtBr => pt_br::cardinal(n, gender),
        SayLang::En => en::cardinal(n),
    }
}

/// The masculine ordinal of `n`, e.g. a queue position: 3 → "terceiro" / "third",
/// 21 → "vigésimo primeiro" / "twenty-first".
pub fn say_ordinal(n: u32, lang: SayLang) -> String {
    match lang {
        SayLang::PtBr => pt_br::ordinal(n),
        SayLang::En => en::ordinal(n),
    }
}

/// Longest wait said as a figure; longer ones are "more than twenty-four hours".
const MAX_SAID_WAIT_MINUTES: u64 = 24 * 60;

/// An expected wait: "cerca de cinco minutos" / "about five minutes".
///
/// Rounded to the nearest minute; from ten minutes on, to the nearest five.
/// Under half a minute is "menos de um minuto" / "less than a minute".
pub fn say_wait(wait: Duration, lang: SayLang) -> String {
    let mut minutes = wait.as_secs().saturating_add(30) / 60;
    if minutes >= 10 {
        minutes = (minutes + 2) / 5 * 5;
    }
    match lang {
        SayLang::PtBr => pt_br::wait(minutes, MAX_SAID_WAIT_MINUTES),
        SayLang::En => en::wait(minutes, MAX_SAID_WAIT_MINUTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(minutes: u64) -> Duration {
        Duration::from_secs(minutes * 60)
    }

    #[test]
    fn waits_in_portuguese() {
        let pt = |d| say_wait(d, SayLang::PtBr);
        assert_eq!(pt(Duration::ZERO), "menos de um minuto");
        assert_eq!(pt(Duration::from_secs(29)), "menos de um minuto");
        assert_eq!(pt(Duration::from_secs(50)), "cerca de um minuto");
        assert_eq!(pt(m(5)), "cerca de cinco minutos");
        assert_eq!(pt(m(5) + Duration::from_secs(31)), "cerca de seis minutos");
        assert_eq!(pt(m(12)), "cerca de dez minutos");
        assert_eq!(pt(m(13)), "cerca de quinze minutos");
        assert_eq!(pt(m(21)), "cerca de vinte minutos");
        assert_eq!(pt(m(59)), "cerca de uma hora");
        assert_eq!(pt(m(61)), "cerca de uma hora");
        assert_eq!(pt(m(62)), "cerca de uma hora");
        assert_eq!(pt(m(63)), "cerca de uma hora e cinco minutos");
        assert_eq!(pt(m(120)), "cerca de duas horas");
        assert_eq!(pt(m(141)), "cerca de duas horas e vinte minutos");
        assert_eq!(pt(m(24 * 60)), "mais de vinte e quatro horas");
        assert_eq!(pt(Duration::MAX), "mais de vinte e quatro horas");
    }

    #[test]
    fn waits_in_english() {
        let en = |d| say_wait(d, SayLang::En);
        assert_eq!(en(Duration::from_secs(10)), "less than a minute");
        assert_eq!(en(m(1)), "about one minute");
        assert_eq!(en(m(5)), "about five minutes");
        assert_eq!(en(m(60)), "about one hour");
        assert_eq!(en(m(90)), "about one hour and thirty minutes");
        assert_eq!(en(m(180)), "about three hours");
        assert_eq!(en(Duration::MAX), "more than twenty-four hours");
    }

    #[test]
    fn language_mapping() {
        assert_eq!(SayLang::for_language(Language::PtBr), Some(SayLang::PtBr));
        assert_eq!(SayLang::for_language(Language::EnUs), Some(SayLang::En));
        assert_eq!(SayLang::for_language(Language::Es), None);
    }

    #[test]
    fn every_number_has_words_in_both_languages() {
        // Spot-check a spread of values, including the extremes: non-empty,
        // no digits, no doubled or stray spaces.
        let mut n: u64 = 0;
        while n <= u64::from(u32::MAX) {
            let v = n as u32;
            for lang in [SayLang::PtBr, SayLang::En] {
                for s in [say_number(v, lang), say_ordinal(v, lang)] {
                    assert!(
                        !s.is_empty() && !s.contains("  ") && s.trim() == s,
                        "{v}: {s:?}"
                    );
                    assert!(!s.chars().any(|c| c.is_ascii_digit()), "{v}: {s:?}");
                }
            }
            n = n * 3 + 1;
        }
        assert_eq!(
            say_number(u32::MAX, SayLang::PtBr),
            "quatro bilhões duzentos e noventa e quatro milhões novecentos e sessenta e sete mil duzentos e noventa e cinco"
        );
        assert_eq!(
            say_number(u32::MAX, SayLang::En),
            "four billion two hundred ninety-four million nine hundred sixty-seven thousand two hundred ninety-five"
        );
    }
}
