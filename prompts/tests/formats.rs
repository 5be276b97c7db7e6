//! Every committed fixture decodes to the exact length and level expected.

mod support;

use std::time::Duration;

use support::{fixture, floats, goertzel, zero_crossing_freq};
use ura_media::g711::Codec;
use ura_prompts::{import, ImportOptions, Imported};

fn load(name: &str) -> Imported {
    import(&fixture(name), &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Checks an imported fixture: a 1 kHz sine at half scale lasting `secs`.
fn check(name: &str, format: &str, rate: u32, channels: u16, secs: f64) {
    let p = load(name);
    let samples = (secs * 8000.0) as usize;
    assert_eq!(
        (p.format, p.source_rate, p.source_channels),
        (format, rate, channels),
        "{name}"
    );
    assert_eq!(p.pcm_8k.len(), samples, "{name}");
    assert_eq!(p.frames.frame_count(), samples / 160, "{name}");
    assert_eq!(p.duration, Duration::from_secs_f64(secs), "{name}");
    for codec in [Codec::Pcmu, Codec::Pcma] {
        assert_eq!(p.frames.bytes(codec).len(), samples, "{name}");
    }
    // Away from the edges, the tone is there at its level (-6 dBFS) and
    // frequency, whatever the encoding (8-bit and G.711 are coarser).
    let x = floats(&p.pcm_8k[400..samples - 400]);
    // lame itself leaves the tone 0.7 dB lower (sox agrees).
    let tolerance = if format == "mp3" { 1.0 } else { 0.3 };
    let level_db = 10.0 * goertzel(&x, 8000.0, 1000.0).log10();
    assert!(
        (level_db + 6.02).abs() < tolerance,
        "{name}: 1 kHz at {level_db:.2} dB"
    );
    let f = zero_crossing_freq(&x, 8000.0);
    assert!((f - 1000.0).abs() < 0.5, "{name}: {f} Hz");
}

#[test]
fn wav_unsigned_8_bit() {
    check("pcm_u8_8k_mono.wav", "wav", 8000, 1, 0.5);
    check("pcm_u8_16k_stereo.wav", "wav", 16000, 2, 0.5);
}

#[test]
fn wav_signed_16_bit() {
    check("pcm_s16_8k_mono.wav", "wav", 8000, 1, 1.0);
    check("pcm_s16_44k1_mono.wav", "wav", 44100, 1, 1.0);
}

#[test]
fn wav_signed_24_and_32_bit() {
    check("pcm_s24_22k05_stereo.wav", "wav", 22050, 2, 0.5);
    check("pcm_s32_48k_mono.wav", "wav", 48000, 1, 0.5);
}

#[test]
fn wav_float() {
    check("float_16k_stereo.wav", "wav", 16000, 2, 0.5);
}

#[test]
fn wav_g711() {
    check("ulaw_8k_mono.wav", "wav", 8000, 1, 0.5);
    check("alaw_8k_stereo.wav", "wav", 8000, 2, 0.5);
}

#[test]
fn mp3_cbr_and_vbr_with_and_without_id3() {
    // lame's Info tag gives the exact length: 1.000 s at 44.1 kHz becomes
    // 8000 samples, 50 frames, once encoder delay and padding are removed.
    for name in [
        "cbr_44k1_stereo.mp3",
        "vbr_44k1_stereo.mp3",
        "cbr_44k1_stereo_id3.mp3",
        "vbr_44k1_stereo_id3.mp3",
    ] {
        check(name, "mp3", 44100, 2, 1.0);
    }
    // The ID3v2 tag changes nothing in the audio.
    assert_eq!(
        load("cbr_44k1_stereo.mp3").pcm_8k,
        load("cbr_44k1_stereo_id3.mp3").pcm_8k
    );
}

#[test]
fn mp3_without_info_tag_keeps_encoder_delay_and_padding() {
    // Nothing declares the exact length, so the decoder delay and the
    // padding of the last frame stay: 1 s of audio in 40 frames of 1152.
    let p = load("cbr_44k1_stereo_notag.mp3");
    assert_eq!(
        p.pcm_8k.len(),
        (40.0 * 1152.0 * 8000.0 / 44100.0f64).round() as usize
    );
    assert_eq!(
        (p.format, p.source_rate, p.source_channels),
        ("mp3", 44100, 2)
    );
}

#[test]
fn eight_khz_16_bit_passes_through_unchanged() {
    let bytes = fixture("pcm_s16_8k_mono.wav");
    let original: Vec<i16> = hound::WavReader::new(&bytes[..])
        .unwrap()
        .samples::<i16>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(load("pcm_s16_8k_mono.wav").pcm_8k, original);
}

#[test]
fn stereo_is_the_average_of_its_channels() {
    let left = support::sine(500.0, 0.6);
    let right = |_: f64| 0.0;
    let inverted = |t: f64| -support::sine(500.0, 0.6)(t);
    let half = import(
        &support::wav(8000, 0.5, &[&left, &right]),
        &ImportOptions::default(),
    )
    .unwrap();
    let x = floats(&half.pcm_8k);
    let level = 10.0 * goertzel(&x, 8000.0, 500.0).log10();
    // 0.6 / 2 = 0.3 of full scale: -10.46 dBFS.
    assert!((level - 20.0 * 0.3f64.log10()).abs() < 0.05, "{level}");
    let cancelled = import(
        &support::wav(8000, 0.5, &[&left, &inverted]),
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(cancelled.pcm_8k.iter().all(|s| s.abs() <= 1));
}
