//! Mono 16-bit PCM audio and resampling to the 8 kHz prompt rate.

use std::f64::consts::PI;
use std::time::Duration;

use crate::error::TtsError;

/// The sample rate of ura prompts (what G.711 frames are cut from).
pub const PROMPT_SAMPLE_RATE: u32 = 8_000;

/// Highest sample rate accepted anywhere in this crate.
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// Half-length of the resampling filter, in taps at the lower of the two rates.
const HALF_TAPS: f64 = 16.0;

/// Mono signed 16-bit PCM audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// The samples, one channel.
    pub samples: Vec<i16>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Audio {
    /// Wraps samples taken at `sample_rate`.
    pub fn new(samples: Vec<i16>, sample_rate: u32) -> Audio {
        Audio {
            samples,
            sample_rate,
        }
    }

    /// Playing time; zero when the sample rate is zero.
    pub fn duration(&self) -> Duration {
        if self.sample_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.sample_rate))
    }

    /// Root mean square of the samples (0.0 for no samples); full scale is 32767.
    pub fn rms(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self
            .samples
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum();
        (sum / self.samples.len() as f64).sqrt()
    }

    /// This audio at another sample rate, band-limited (windowed-sinc) so that
    /// downsampling does not alias.
    pub fn resample(&self, to_rate: u32) -> Result<Audio, TtsError> {
        check_rate(self.sample_rate)?;
        check_rate(to_rate)?;
        if to_rate == self.sample_rate || self.samples.is_empty() {
            return Ok(Audio::new(self.samples.clone(), to_rate));
        }
        let ratio = f64::from(to_rate) / f64::from(self.sample_rate);
        let scale = ratio.min(1.0);
        // Cutoff a little under the lower Nyquist frequency, in cycles per input sample.
        let cutoff = 0.5 * scale * 0.92;
        let half_width = HALF_TAPS / scale;
        let n_in = self.samples.len();
        let n_out = (n_in as f64 * ratio).ceil() as usize;
        let mut out = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let t = j as f64 / ratio;
            let first = (t - half_width).ceil().max(0.0) as usize;
            let last = ((t + half_width).floor() as usize).min(n_in - 1);
            let mut acc = 0.0;
            for (i, &s) in self.samples.iter().enumerate().take(last + 1).skip(first) {
                let d = t - i as f64;
                acc += f64::from(s) * kernel(d, cutoff, half_width);
            }
            out.push(acc.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16);
        }
        Ok(Audio::new(out, to_rate))
    }

    /// This audio at [`PROMPT_SAMPLE_RATE`] (8 kHz), ready to be cut into G.711 frames.
    pub fn to_prompt_rate(&self) -> Result<Audio, TtsError> {
        self.resample(PROMPT_SAMPLE_RATE)
    }
}

fn check_rate(rate: u32) -> Result<(), TtsError> {
    if rate == 0 || rate > MAX_SAMPLE_RATE {
        return Err(TtsError::BadAudio(format!(
            "sample rate {rate} Hz outside 1..={MAX_SAMPLE_RATE}"
        )));
    }
    Ok(())
}

/// Low-pass windowed-sinc (Blackman) at `cutoff` cycles per input sample.
fn kernel(d: f64, cutoff: f64, half_width: f64) -> f64 {
    if d.abs() >= half_width {
        return 0.0;
    }
    let x = 2.0 * cutoff * d;
    let sinc = if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    };
    let w = d / half_width; // -1..1
    let blackman = 0.42 + 0.5 * (PI * w).cos() + 0.08 * (2.0 * PI * w).cos();
    2.0 * cutoff * sinc * blackman
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sine tone, for tests.
    pub(crate) fn tone(freq: f64, rate: u32, secs: f64, amplitude: f64) -> Audio {
        let n = (f64::from(rate) * secs) as usize;
        let samples = (0..n)
            .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as i16)
            .collect();
        Audio::new(samples, rate)
    }

    /// Frequency estimate from zero crossings, for tests.
    pub(crate) fn zero_crossing_freq(a: &Audio) -> f64 {
        let crossings = a
            .samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        crossings as f64 / 2.0 / a.duration().as_secs_f64()
    }

    #[test]
    fn duration_and_rms() {
        let a = tone(440.0, 8000, 0.5, 10_000.0);
        assert_eq!(a.duration(), Duration::from_millis(500));
        // RMS of a sine is amplitude / sqrt(2).
        assert!(
            (a.rms() - 10_000.0 / 2f64.sqrt()).abs() < 50.0,
            "{}",
            a.rms()
        );
        assert_eq!(Audio::new(vec![], 8000).rms(), 0.0);
        assert_eq!(Audio::new(vec![1, 2], 0).duration(), Duration::ZERO);
    }

    #[test]
    fn downsampling_keeps_an_in_band_tone() {
        let a = tone(440.0, 22_050, 0.5, 12_000.0);
        let b = a.to_prompt_rate().unwrap();
        assert_eq!(b.sample_rate, 8000);
        assert_eq!(b.samples.len(), 4000);
        let f = zero_crossing_freq(&b);
        assert!((f - 440.0).abs() < 5.0, "freq {f}");
        let ratio = b.rms() / a.rms();
        assert!((0.95..1.05).contains(&ratio), "gain {ratio}");
    }

    #[test]
    fn downsampling_removes_what_8k_cannot_carry() {
        // 5 kHz is above the 4 kHz Nyquist limit of 8 kHz audio: without a filter
        // it would fold down to 3 kHz at full level.
        let a = tone(5_000.0, 22_050, 0.5, 12_000.0);
        let b = a.resample(8000).unwrap();
        // Ignore the filter's edge transients.
        let inner = Audio::new(b.samples[100..3900].to_vec(), 8000);
        assert!(inner.rms() < a.rms() / 30.0, "alias rms {}", inner.rms());
    }

    #[test]
    fn upsampling_keeps_the_tone() {
        let a = tone(300.0, 8000, 0.5, 8_000.0);
        let b = a.resample(16_000).unwrap();
        assert_eq!(b.samples.len(), 8000);
        assert!((zero_crossing_freq(&b) - 300.0).abs() < 5.0);
    }

    #[test]
    fn bad_rates_are_errors_not_panics() {
        let a = Audio::new(vec![0; 10], 0);
        assert!(matches!(a.resample(8000), Err(TtsError::BadAudio(_))));
        let a = Audio::new(vec![0; 10], 8000);
        assert!(matches!(a.resample(0), Err(TtsError::BadAudio(_))));
        assert!(a.resample(u32::MAX).is_err());
        assert_eq!(a.resample(8000).unwrap(), a);
        let one = Audio::new(vec![i16::MAX], 44_100).resample(8000).unwrap();
        assert_eq!(one.samples.len(), 1);
    }
}
