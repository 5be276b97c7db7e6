//! `EspeakNg` through the real espeak-ng program.
//!
//! When espeak-ng is missing these tests fail, saying what to install (the
//! `no-peers` nextest profile leaves them out, reported as skipped).

use std::time::Duration;

use ura_tts::{EspeakNg, Language, Rate, Synthesizer, TtsError, Voice};

/// The engine; panics (the test fails) when espeak-ng is not installed.
fn espeak() -> EspeakNg {
    let engine = EspeakNg::new();
    assert!(
        engine.is_installed(),
        "espeak-ng not installed: install the Debian package `espeak-ng` (every peer: see \
         README.md), or leave out the tests that need peers: \
         `cargo nextest run --workspace --profile no-peers`"
    );
    engine
}

/// Speech, not silence or a click.
fn assert_speech(audio: &ura_tts::Audio, what: &str) {
    let secs = audio.duration().as_secs_f64();
    assert_eq!(audio.sample_rate, 22_050, "{what}");
    assert!((0.3..3.0).contains(&secs), "{what}: {secs} s");
    assert!(audio.rms() > 500.0, "{what}: rms {}", audio.rms());
}

#[test]
fn bem_vindo_in_brazilian_portuguese() {
    let engine = espeak();
    let voice: Voice = "pt-BR".parse().unwrap();
    let audio = engine
        .synthesize("Bem-vindo", &voice, Rate::DEFAULT)
        .unwrap();
    assert_speech(&audio, "pt-BR Bem-vindo");
    let prompt = audio.to_prompt_rate().unwrap();
    assert_eq!(prompt.sample_rate, 8_000);
    let diff = prompt.duration().as_secs_f64() - audio.duration().as_secs_f64();
    assert!(diff.abs() < 0.001, "duration changed by {diff} s");
    assert!(prompt.rms() > 300.0);
}

#[test]
fn each_of_the_four_voices_speaks() {
    let engine = espeak();
    let mut outputs = Vec::new();
    for language in Language::ALL {
        let audio = engine
            .synthesize("Bem-vindo", &language.into(), Rate::DEFAULT)
            .unwrap_or_else(|e| panic!("{language}: {e}"));
        assert_speech(&audio, language.tag());
        outputs.push(audio.samples);
    }
    // Four different voices: four different renderings of the same text.
    for i in 0..outputs.len() {
        for j in i + 1..outputs.len() {
            assert_ne!(outputs[i], outputs[j], "voices {i} and {j} sound identical");
        }
    }
}

#[test]
fn rate_changes_the_length_of_speech() {
    let engine = espeak();
    let text = "Sua ligação é muito importante para nós.";
    let voice = Voice::Language(Language::PtBr);
    let slow = engine
        .synthesize(text, &voice, Rate::new(100).unwrap())
        .unwrap();
    let fast = engine
        .synthesize(text, &voice, Rate::new(300).unwrap())
        .unwrap();
    let ratio = slow.duration().as_secs_f64() / fast.duration().as_secs_f64();
    assert!(ratio > 1.8, "100 wpm only {ratio}x longer than 300 wpm");
}

#[test]
fn text_that_looks_like_options_is_spoken() {
    let engine = espeak();
    // As arguments these would pick a voice that does not exist and fail.
    let audio = engine
        .synthesize(
            "-v xx --help -w /tmp/x",
            &Language::EnUs.into(),
            Rate::DEFAULT,
        )
        .unwrap();
    assert!(audio.duration() > Duration::from_millis(500));
    assert!(audio.rms() > 500.0);
}

#[test]
fn engine_voice_names_pass_through() {
    let engine = espeak();
    let variant: Voice = "pt-br+f3".parse().unwrap();
    let audio = engine.synthesize("Olá", &variant, Rate::DEFAULT).unwrap();
    assert!(audio.rms() > 500.0);
    let unknown: Voice = "zz-nonexistent".parse().unwrap();
    match engine.synthesize("Olá", &unknown, Rate::DEFAULT) {
        Err(TtsError::EngineFailed { detail, .. }) => {
            assert!(detail.contains("voice"), "{detail}")
        }
        other => panic!("expected EngineFailed, got {other:?}"),
    }
}

#[test]
fn a_missing_program_says_what_to_install() {
    let engine = EspeakNg::with_program("/nonexistent/ura-test/espeak-ng");
    assert!(!engine.is_installed());
    let err = engine
        .synthesize("Bem-vindo", &Language::PtBr.into(), Rate::DEFAULT)
        .unwrap_err();
    assert!(matches!(err, TtsError::EngineMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("Debian package `espeak-ng`"), "{message}");
    assert!(message.contains("HTTP"), "{message}");
}

#[test]
fn too_long_text_is_refused_before_running_anything() {
    let engine = EspeakNg::with_program("/nonexistent/ura-test/espeak-ng");
    assert!(matches!(
        engine.synthesize(
            &"palavra ".repeat(700),
            &Language::PtBr.into(),
            Rate::DEFAULT
        ),
        Err(TtsError::TextTooLong {
            len: 5_600,
            max: 5_000
        })
    ));
}
