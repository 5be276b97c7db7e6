//! Trimming silence and normalising the peak.

mod support;

use std::time::Duration;

use support::{fixture, peak_dbfs, wav};
use ura_prompts::{import, ImportOptions, PromptError};

/// 0.3 s silence, 0.5 s 1 kHz at -20 dBFS, 0.2 s silence.
const PADDED: &str = "quiet_padded_8k.wav";

#[test]
fn untouched_by_default() {
    let p = import(&fixture(PADDED), &ImportOptions::default()).unwrap();
    assert_eq!(p.pcm_8k.len(), 8000);
    assert!((peak_dbfs(&p.pcm_8k) + 20.0).abs() < 0.1);
}

#[test]
fn trimming_keeps_the_sound_and_50ms_each_side() {
    let opts = ImportOptions {
        trim_silence: true,
        ..ImportOptions::default()
    };
    let p = import(&fixture(PADDED), &opts).unwrap();
    // 0.5 s of tone + 2 × 50 ms, give or take the tone's zero crossings.
    assert!(
        (4798..=4800).contains(&p.pcm_8k.len()),
        "{}",
        p.pcm_8k.len()
    );
    assert_eq!(p.frames.frame_count(), 30);
    assert!(
        p.duration >= Duration::from_micros(599_700) && p.duration <= Duration::from_millis(600)
    );
    // The margins are silent, the tone starts right after.
    assert!(p.pcm_8k[..399].iter().all(|&s| s == 0));
    assert!(p.pcm_8k[400..410].iter().any(|&s| s.abs() > 1000));
    assert!(p.pcm_8k[p.pcm_8k.len() - 399..].iter().all(|&s| s == 0));
}

#[test]
fn normalising_sets_the_peak() {
    for target in [-3.0f32, -1.0, -12.0] {
        let opts = ImportOptions {
            normalize: Some(target),
            ..ImportOptions::default()
        };
        let p = import(&fixture(PADDED), &opts).unwrap();
        let peak = peak_dbfs(&p.pcm_8k);
        assert!((peak - f64::from(target)).abs() < 0.01, "{target}: {peak}");
    }
    // Louder sources come down too.
    let opts = ImportOptions {
        normalize: Some(-3.0),
        ..ImportOptions::default()
    };
    let p = import(&fixture("pcm_s16_8k_mono.wav"), &opts).unwrap();
    assert!((peak_dbfs(&p.pcm_8k) + 3.0).abs() < 0.01);
}

#[test]
fn trimming_and_normalising_together() {
    let opts = ImportOptions {
        normalize: Some(-3.0),
        trim_silence: true,
        ..ImportOptions::default()
    };
    let p = import(&fixture(PADDED), &opts).unwrap();
    assert!((4798..=4800).contains(&p.pcm_8k.len()));
    assert!((peak_dbfs(&p.pcm_8k) + 3.0).abs() < 0.01);
}

#[test]
fn silence_is_refused_when_trimming_and_kept_silent_otherwise() {
    let silence = wav(16000, 0.5, &[&|_| 0.0]);
    let trim = ImportOptions {
        trim_silence: true,
        normalize: Some(-3.0),
        ..ImportOptions::default()
    };
    assert!(matches!(import(&silence, &trim), Err(PromptError::Silent)));
    let keep = ImportOptions {
        normalize: Some(-3.0),
        ..ImportOptions::default()
    };
    let p = import(&silence, &keep).unwrap();
    assert_eq!(p.pcm_8k, vec![0; 4000]);
}
