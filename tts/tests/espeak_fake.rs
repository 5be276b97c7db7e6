//! `EspeakNg`'s process handling, with small shell scripts standing in for
//! espeak-ng: hangs, failures and garbage output.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ura_tts::{EspeakNg, Language, Rate, Synthesizer, TtsError};

struct Scripts {
    hang: PathBuf,
    fail: PathBuf,
    garbage: PathBuf,
    echo_args: PathBuf,
}

/// Writes every script once, before any test of this binary starts a process:
/// a script still open for writing while another thread forks could not be run
/// ("text file busy").
fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        let dir = common::temp_dir("fake-espeak");
        let write = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        Scripts {
            hang: write("hang", "exec sleep 10"),
            fail: write(
                "fail",
                "cat >/dev/null; echo 'boom: no such thing' >&2; exit 3",
            ),
            garbage: write("garbage", "cat >/dev/null; echo 'this is not a wav'"),
            // Exits with failure and reports its argv, to see how the text was passed.
            echo_args: write("echo_args", "cat >/dev/null; echo \"$@\" >&2; exit 1"),
        }
    })
}

#[test]
fn a_hanging_engine_is_killed_at_the_time_limit() {
    let engine = EspeakNg::with_program(&scripts().hang).with_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let result = engine.synthesize("Bem-vindo", &Language::PtBr.into(), Rate::DEFAULT);
    let took = start.elapsed();
    assert!(
        matches!(result, Err(TtsError::Timeout { after, .. }) if after == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn a_failing_engine_reports_its_stderr() {
    let engine = EspeakNg::with_program(&scripts().fail);
    match engine.synthesize("Bem-vindo", &Language::PtBr.into(), Rate::DEFAULT) {
        Err(TtsError::EngineFailed { detail, .. }) => {
            assert!(detail.contains("boom: no such thing"), "{detail}");
        }
        other => panic!("expected EngineFailed, got {other:?}"),
    }
}

#[test]
fn garbage_output_is_bad_audio() {
    let engine = EspeakNg::with_program(&scripts().garbage);
    assert!(matches!(
        engine.synthesize("Bem-vindo", &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::BadAudio(_))
    ));
}

#[test]
fn arguments_carry_voice_and_rate_but_never_the_text() {
    let engine = EspeakNg::with_program(&scripts().echo_args);
    let cases = [
        (Language::PtBr, "pt-br"),
        (Language::PtPt, "pt"),
        (Language::EnUs, "en-us"),
        (Language::Es, "es"),
    ];
    for (language, arg) in cases {
        match engine.synthesize("--secret-text", &language.into(), Rate::new(190).unwrap()) {
            Err(TtsError::EngineFailed { detail, .. }) => {
                assert!(
                    detail.contains(&format!("-v {arg} -s 190 --stdin --stdout")),
                    "{detail}"
                );
                assert!(
                    !detail.contains("secret"),
                    "text leaked into argv: {detail}"
                );
            }
            other => panic!("expected EngineFailed, got {other:?}"),
        }
    }
}
