//! Resampling keeps the telephone band and removes what would alias.

mod support;

use support::{floats, goertzel, sine, wav, zero_crossing_freq};
use ura_prompts::resample::{to_8k, Resampler8k};
use ura_prompts::{import, ImportOptions};

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn a_1khz_tone_stays_1khz_at_its_level() {
    for rate in [11025, 16000, 22050, 32000, 44100, 48000] {
        let p = import(
            &wav(rate, 1.0, &[&sine(1000.0, 0.5)]),
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(p.pcm_8k.len(), 8000, "{rate}");
        let x = floats(&p.pcm_8k[200..7800]);
        let f = zero_crossing_freq(&x, 8000.0);
        assert!((f - 1000.0).abs() < 0.05, "{rate} Hz: tone at {f} Hz");
        let level = 10.0 * goertzel(&x, 8000.0, 1000.0).log10();
        assert!((level + 6.02).abs() < 0.1, "{rate} Hz: {level:.3} dB");
    }
}

#[test]
fn a_5khz_tone_at_44k1_is_40db_down() {
    check_removed(44100, 5000.0);
    check_removed(48000, 4600.0);
    check_removed(16000, 5000.0);
}

/// A tone above 4 kHz must not survive (or alias) into the 8 kHz signal.
fn check_removed(rate: u32, freq: f64) {
    // Through the whole pipeline: away from the abrupt start and end of
    // the tone (which are broadband clicks), nothing left in 16 bits.
    let p = import(
        &wav(rate, 1.0, &[&sine(freq, 0.5)]),
        &ImportOptions::default(),
    )
    .unwrap();
    let peak = p.pcm_8k[200..7800].iter().map(|s| s.abs()).max();
    assert!(peak <= Some(1), "{freq} Hz @ {rate} Hz: peak {peak:?}");
    // In floating point, for a figure.
    let input: Vec<f32> = (0..rate)
        .map(|i| sine(freq, 0.5)(f64::from(i) / f64::from(rate)) as f32)
        .collect();
    let out = to_8k(&input, rate).unwrap();
    let x: Vec<f64> = out[200..7800].iter().map(|&v| f64::from(v)).collect();
    // Everything left (the alias and any other leakage) against the
    // 0.5-amplitude input tone.
    let attenuation = 20.0 * (rms(&x) / (0.5 / 2f64.sqrt())).log10();
    let alias_freq = 8000.0 - freq;
    let alias = 10.0 * goertzel(&x, 8000.0, alias_freq).log10() - 20.0 * 0.5f64.log10();
    println!(
        "{freq} Hz @ {rate} Hz: output {attenuation:.1} dB, {alias_freq} Hz alias {alias:.1} dB"
    );
    assert!(attenuation <= -40.0, "only {attenuation:.1} dB down");
    assert!(alias <= -40.0, "alias only {alias:.1} dB down");
}

#[test]
fn passband_is_flat_to_3_4khz() {
    for freq in [300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
        let p = import(
            &wav(48000, 1.0, &[&sine(freq, 0.5)]),
            &ImportOptions::default(),
        )
        .unwrap();
        let x = floats(&p.pcm_8k[200..7800]);
        let level = 10.0 * goertzel(&x, 8000.0, freq).log10() + 6.02;
        assert!(level.abs() < 0.2, "{freq} Hz: {level:.2} dB");
    }
}

#[test]
fn streaming_in_odd_pieces_gives_the_same_as_all_at_once() {
    let x: Vec<f32> = (0..44100).map(|i| (i as f32 * 0.07).sin() * 0.4).collect();
    let whole = to_8k(&x, 44100).unwrap();
    let mut r = Resampler8k::new(44100).unwrap();
    for piece in x.chunks(1153) {
        r.push(piece).unwrap();
    }
    assert_eq!(r.finish().unwrap(), whole);
    assert_eq!(whole.len(), 8000);
    assert_eq!(to_8k(&x[..3], 44100).unwrap().len(), 1);
    assert!(to_8k(&[], 22050).unwrap().is_empty());
    assert_eq!(to_8k(&x[..100], 8000).unwrap(), &x[..100]);
}
