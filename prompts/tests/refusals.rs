//! Every bad upload is refused with its reason, and nothing makes the
//! pipeline panic.

mod support;

use std::time::{Duration, Instant};

use support::{fixture, sine, wav};
use ura_prompts::{import, ImportOptions, PromptError};

fn refuse(bytes: &[u8], opts: &ImportOptions) -> PromptError {
    match import(bytes, opts) {
        Ok(p) => panic!("accepted {} samples", p.pcm_8k.len()),
        Err(e) => e,
    }
}

fn default_refusal(bytes: &[u8]) -> PromptError {
    refuse(bytes, &ImportOptions::default())
}

#[test]
fn empty_file() {
    assert!(matches!(
        default_refusal(&fixture("empty.wav")),
        PromptError::Empty
    ));
}

#[test]
fn text_renamed_mp3_is_not_audio() {
    let e = default_refusal(&fixture("text.mp3"));
    assert!(matches!(e, PromptError::NotAudio), "{e:?}");
    assert_eq!(e.to_string(), "the file is not WAV or MP3 audio");
    // Neither is the script that made the fixtures (whose text mentions
    // "ID3v2", which the probe tries as a tag), nor random bytes.
    assert!(matches!(
        default_refusal(&fixture("make.sh")),
        PromptError::NotAudio
    ));
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(default_refusal(&noise), PromptError::NotAudio));
}

#[test]
fn too_large_is_refused_before_decoding() {
    let opts = ImportOptions {
        max_bytes: 1000,
        ..ImportOptions::default()
    };
    let e = refuse(&fixture("cbr_44k1_stereo.mp3"), &opts);
    assert!(
        matches!(
            e,
            PromptError::TooLarge {
                size: 17135,
                limit: 1000
            }
        ),
        "{e:?}"
    );
    assert_eq!(ImportOptions::default().max_bytes, 50 * 1024 * 1024);
}

#[test]
fn too_long_by_declared_length() {
    let opts = ImportOptions {
        max_duration: Duration::from_millis(500),
        ..ImportOptions::default()
    };
    let e = refuse(&fixture("pcm_s16_8k_mono.wav"), &opts);
    let PromptError::TooLong { limit, at_least } = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (limit, at_least),
        (Duration::from_millis(500), Duration::from_secs(1))
    );
    assert_eq!(
        ImportOptions::default().max_duration,
        Duration::from_secs(1800)
    );
}

#[test]
fn tiny_wav_claiming_hours_is_refused_at_once() {
    // 44-byte header declaring 4 GB of 8 kHz 16-bit mono (74 hours), then
    // a few samples.
    let mut bytes = wav(8000, 0.01, &[&sine(1000.0, 0.5)]);
    bytes[4..8].copy_from_slice(&0xFFFF_FF24u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    let e = default_refusal(&bytes);
    let PromptError::TooLong { at_least, .. } = e else {
        panic!("{e:?}")
    };
    assert!(at_least > Duration::from_secs(70 * 3600), "{at_least:?}");
}

#[test]
fn long_mp3_stops_decoding_at_the_limit() {
    // 300 copies of a 1 s MP3 without Info tag back to back: nothing
    // declares the length, decoding finds out and stops just past 5 s.
    let one = fixture("cbr_44k1_stereo_notag.mp3");
    let long: Vec<u8> = one.iter().copied().cycle().take(one.len() * 300).collect();
    let opts = ImportOptions {
        max_duration: Duration::from_secs(5),
        ..ImportOptions::default()
    };
    let start = Instant::now();
    let e = refuse(&long, &opts);
    let PromptError::TooLong { limit, at_least } = e else {
        panic!("{e:?}")
    };
    assert_eq!(limit, Duration::from_secs(5));
    assert!(
        at_least > limit && at_least < Duration::from_millis(5100),
        "{at_least:?}"
    );
    println!("refused after {:?}", start.elapsed());
}

#[test]
fn unsupported_codec_and_rates() {
    let e = default_refusal(&fixture("ima_adpcm_8k.wav"));
    assert!(matches!(e, PromptError::Unsupported { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("unsupported audio codec: wav"),
        "{e}"
    );
    for rate in [4000, 96_000] {
        let e = default_refusal(&wav(rate, 0.05, &[&sine(1000.0, 0.5)]));
        assert!(
            matches!(e, PromptError::BadSampleRate { rate: r } if r == rate),
            "{e:?}"
        );
    }
}

#[test]
fn truncated_mp3_and_wav() {
    let e = default_refusal(&fixture("truncated.mp3"));
    assert!(matches!(e, PromptError::Truncated), "{e:?}");
    let wav = fixture("pcm_s16_8k_mono.wav");
    let e = default_refusal(&wav[..5000]);
    assert!(matches!(e, PromptError::Truncated), "{e:?}");
}

#[test]
fn damaged_headers_and_frames_are_corrupt_or_unsupported() {
    let wav = fixture("pcm_s16_8k_mono.wav");
    let with = |at: usize, value: u8| {
        let mut bytes = wav.clone();
        bytes[at] = value;
        default_refusal(&bytes)
    };
    // fmt chunk: 0 channels, 7 bits per sample, unknown format tag 9.
    let e = with(22, 0);
    assert!(
        matches!(&e, PromptError::Corrupt { reason } if reason.contains("channel count")),
        "{e:?}"
    );
    let e = with(34, 7);
    assert!(
        matches!(&e, PromptError::Corrupt { reason } if reason.contains("bits per sample")),
        "{e:?}"
    );
    let e = with(20, 9);
    assert!(
        matches!(&e, PromptError::Unsupported { codec } if codec.contains("wave format")),
        "{e:?}"
    );
    // MP3 frames overwritten with junk after the first 2000 bytes.
    let mut mp3 = fixture("cbr_44k1_stereo_notag.mp3");
    for i in (2000..mp3.len()).step_by(97) {
        mp3[i] = 0xff;
    }
    let e = default_refusal(&mp3);
    assert!(matches!(e, PromptError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().starts_with("the file is corrupt: "), "{e}");
}

#[test]
fn header_only_wav_has_no_audio() {
    let wav = fixture("pcm_s16_8k_mono.wav");
    let mut header = wav[..44].to_vec();
    header[40..44].copy_from_slice(&0u32.to_le_bytes());
    let e = default_refusal(&header);
    assert!(matches!(e, PromptError::Empty), "{e:?}");
}

#[test]
fn damaged_files_never_panic() {
    // Every prefix length class and byte flip of every audio fixture gives
    // an answer, never a panic (a caught one shows as this reason).
    let caught = "the decoder failed on this file";
    let mut refused = 0;
    for name in [
        "pcm_u8_8k_mono.wav",
        "pcm_s24_22k05_stereo.wav",
        "float_16k_stereo.wav",
        "alaw_8k_stereo.wav",
        "cbr_44k1_stereo_id3.mp3",
        "vbr_44k1_stereo.mp3",
    ] {
        let good = fixture(name);
        let mut variants: Vec<Vec<u8>> = (1..24)
            .map(|i| good[..good.len() * i / 24].to_vec())
            .collect();
        for i in 0..30 {
            let mut bad = good.clone();
            let at = (i * 7919 + 13) % bad.len();
            bad[at] ^= 0x5a;
            bad[(at * 3 + 1) % good.len()] = 0xff;
            variants.push(bad);
        }
        for bytes in &variants {
            if let Err(e) = import(bytes, &ImportOptions::default()) {
                refused += 1;
                assert!(!e.to_string().contains(caught), "{name}: {e}");
            }
        }
    }
    assert!(refused > 40, "only {refused} refusals");
}
