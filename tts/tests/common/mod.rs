//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::f64::consts::PI;
use std::path::PathBuf;

use ura_tts::Audio;

/// A sine tone.
pub fn tone(freq: f64, rate: u32, secs: f64, amplitude: f64) -> Audio {
    let n = (f64::from(rate) * secs) as usize;
    let samples = (0..n)
        .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as i16)
        .collect();
    Audio::new(samples, rate)
}

/// Frequency estimate from zero crossings.
pub fn zero_crossing_freq(a: &Audio) -> f64 {
    let crossings = a
        .samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / a.duration().as_secs_f64()
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ura-tts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
