//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::PathBuf;

/// The bytes of a committed fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 16-bit WAV in memory from per-channel sample functions of time.
pub fn wav(rate: u32, secs: f64, channels: &[&dyn Fn(f64) -> f64]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    let n = (secs * f64::from(rate)).round() as usize;
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        for ch in channels {
            w.write_sample((ch(t) * 32767.0).round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A sine of `freq` Hz at amplitude `amp` (of full scale).
pub fn sine(freq: f64, amp: f64) -> impl Fn(f64) -> f64 {
    move |t| amp * (2.0 * std::f64::consts::PI * freq * t).sin()
}

/// Power of `freq` in `x` (sampled at `rate`) by the Goertzel algorithm,
/// normalised so a full-scale sine gives 1.0 (0 dB).
pub fn goertzel(x: &[f64], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = x.len() as f64;
    4.0 * power / (n * n)
}

/// Frequency of a tone estimated from its zero crossings (with linear
/// interpolation between samples).
pub fn zero_crossing_freq(x: &[f64], rate: f64) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            crossings.push((i - 1) as f64 + x[i - 1] / (x[i - 1] - x[i]));
        }
    }
    let first = crossings[0];
    let last = crossings[crossings.len() - 1];
    (crossings.len() - 1) as f64 * rate / (last - first)
}

/// `pcm` as floats in `[-1, 1]`.
pub fn floats(pcm: &[i16]) -> Vec<f64> {
    pcm.iter().map(|&s| f64::from(s) / 32768.0).collect()
}

/// Peak level in dBFS.
pub fn peak_dbfs(pcm: &[i16]) -> f64 {
    let peak = pcm.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0);
    20.0 * (f64::from(peak) / 32768.0).log10()
}
