//! The upload pipeline: checks an uploaded file, decodes it, converts it to
//! 8 kHz mono, optionally trims silence and normalises its peak, and encodes
//! it once to G.711 frames.
//!
//! [`import`] works in memory only and never panics: on bad input it
//! returns the reason and leaves nothing behind.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use ura_media::prompt::PromptFrames;

use crate::decode::Decoder;
use crate::resample::{Resampler8k, TARGET_RATE};
use crate::PromptError;

/// Level below which audio counts as silence when trimming: −45 dBFS.
pub const SILENCE_DBFS: f32 = -45.0;
/// Silence kept before the first and after the last sound when trimming.
pub const TRIM_MARGIN: Duration = Duration::from_millis(50);

/// How [`import`] treats an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Scale the audio so its peak sits at this level in dBFS (e.g. `-3.0`);
    /// `None` keeps the level as uploaded. Silence is left alone.
    pub normalize: Option<f32>,
    /// Cut leading and trailing silence (below [`SILENCE_DBFS`]), keeping
    /// [`TRIM_MARGIN`] on each side.
    pub trim_silence: bool,
    /// Largest accepted upload in bytes.
    pub max_bytes: u64,
    /// Longest accepted audio.
    pub max_duration: Duration,
}

impl Default for ImportOptions {
    /// No normalising, no trimming, at most 50 MB and 30 minutes.
    fn default() -> Self {
        ImportOptions {
            normalize: None,
            trim_silence: false,
            max_bytes: 50 * 1024 * 1024,
            max_duration: Duration::from_secs(30 * 60),
        }
    }
}

/// An imported prompt: 8 kHz audio and its G.711 frames.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The prompt as 8 kHz, 16-bit mono samples.
    pub pcm_8k: Vec<i16>,
    /// The same, encoded to 20 ms PCMU and PCMA frames.
    pub frames: PromptFrames,
    /// Length of `pcm_8k`.
    pub duration: Duration,
    /// Sample rate of the upload in Hz.
    pub source_rate: u32,
    /// Channels of the upload.
    pub source_channels: u16,
    /// Container of the upload: `"wav"` or `"mp3"`.
    pub format: &'static str,
}

/// Imports an uploaded WAV or MP3 file.
///
/// Refuses, with the reason, uploads that are empty or larger than
/// `opts.max_bytes`, that are not WAV or MP3 by content, use an unsupported
/// codec or sample rate, are truncated or corrupt, last longer than
/// `opts.max_duration` (found out while decoding: decoding stops at the
/// limit, or before it starts if the file declares its length), or, with
/// `trim_silence`, are silent throughout.
pub fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported, PromptError> {
    let size = bytes.len() as u64;
    if size == 0 {
        return Err(PromptError::Empty);
    }
    if size > opts.max_bytes {
        return Err(PromptError::TooLarge {
            size,
            limit: opts.max_bytes,
        });
    }
    // The decoders are third-party code fed untrusted bytes: a panic in
    // them becomes a refusal, not a crash of the engine.
    catch_unwind(AssertUnwindSafe(|| import_checked(bytes, opts))).unwrap_or_else(|_| {
        Err(PromptError::Corrupt {
            reason: "the decoder failed on this file".to_string(),
        })
    })
}

fn import_checked(bytes: &[u8], opts: &ImportOptions) -> Result<Imported, PromptError> {
    let mut decoder = Decoder::open(bytes)?;
    let info = decoder.info().clone();
    let rate = u64::from(info.sample_rate);
    let max_frames = duration_to_frames(opts.max_duration, rate);
    let too_long = |frames: u64| PromptError::TooLong {
        limit: opts.max_duration,
        at_least: frames_to_duration(frames, rate),
    };
    if let Some(declared) = info.declared_frames {
        if declared > max_frames {
            return Err(too_long(declared));
        }
    }
    let mut resampler = Resampler8k::new(info.sample_rate)?;
    let mut mono = Vec::new();
    loop {
        mono.clear();
        if !decoder.next_mono(&mut mono)? {
            break;
        }
        if decoder.frames_decoded() > max_frames {
            return Err(too_long(decoder.frames_decoded()));
        }
        resampler.push(&mono)?;
    }
    let mut pcm = resampler.finish()?;
    if pcm.is_empty() {
        return Err(PromptError::Empty);
    }
    if opts.trim_silence {
        let kept = trim_range(&pcm, db_to_amplitude(SILENCE_DBFS), TRIM_MARGIN)
            .ok_or(PromptError::Silent)?;
        pcm.truncate(kept.end);
        pcm.drain(..kept.start);
    }
    if let Some(target) = opts.normalize {
        normalize_peak(&mut pcm, target);
    }
    let pcm_8k = to_i16(&pcm);
    Ok(Imported {
        frames: PromptFrames::from_pcm(&pcm_8k),
        duration: frames_to_duration(pcm_8k.len() as u64, u64::from(TARGET_RATE)),
        pcm_8k,
        source_rate: info.sample_rate,
        source_channels: info.channels,
        format: info.format,
    })
}

/// Linear amplitude of a level in dBFS.
pub fn db_to_amplitude(dbfs: f32) -> f32 {
    10f32.powf(dbfs / 20.0)
}

/// The part of `pcm` (8 kHz) from `margin` before the first sample louder
/// than `threshold` to `margin` after the last one; `None` if none is.
pub fn trim_range(pcm: &[f32], threshold: f32, margin: Duration) -> Option<std::ops::Range<usize>> {
    let loud = |x: &f32| x.abs() > threshold;
    let first = pcm.iter().position(loud)?;
    let last = pcm.iter().rposition(loud)?;
    let margin = duration_to_frames(margin, u64::from(TARGET_RATE)) as usize;
    Some(first.saturating_sub(margin)..(last + 1).saturating_add(margin).min(pcm.len()))
}

/// Scales `pcm` so its peak is at `target_dbfs`; silence stays silence.
pub fn normalize_peak(pcm: &mut [f32], target_dbfs: f32) {
    let peak = pcm.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak <= 0.0 || !peak.is_finite() || !target_dbfs.is_finite() {
        return;
    }
    let gain = db_to_amplitude(target_dbfs.min(0.0)) / peak;
    pcm.iter_mut().for_each(|x| *x *= gain);
}

/// Converts `[-1, 1]` samples to 16-bit, clamping what lies outside.
pub fn to_i16(pcm: &[f32]) -> Vec<i16> {
    pcm.iter()
        .map(|x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn duration_to_frames(d: Duration, rate: u64) -> u64 {
    let frames = d.as_nanos().saturating_mul(u128::from(rate)) / 1_000_000_000;
    u64::try_from(frames).unwrap_or(u64::MAX)
}

fn frames_to_duration(frames: u64, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(frames) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_margin_and_finds_silence() {
        let mut pcm = vec![0.0f32; 8000];
        pcm[3000] = 0.5;
        pcm[5000] = -0.5;
        let thr = db_to_amplitude(SILENCE_DBFS);
        assert_eq!(trim_range(&pcm, thr, TRIM_MARGIN), Some(2600..5401));
        pcm[3000] = 0.001;
        pcm[5000] = 0.0;
        assert_eq!(trim_range(&pcm, thr, TRIM_MARGIN), None);
        assert_eq!(trim_range(&[0.9], thr, TRIM_MARGIN), Some(0..1));
    }

    #[test]
    fn normalize_sets_peak_and_spares_silence() {
        let mut pcm = vec![0.1, -0.2, 0.05];
        normalize_peak(&mut pcm, -6.0);
        assert!((pcm[1] + db_to_amplitude(-6.0)).abs() < 1e-6);
        assert!((pcm[0] - db_to_amplitude(-6.0) / 2.0).abs() < 1e-6);
        let mut silent = vec![0.0; 4];
        normalize_peak(&mut silent, -3.0);
        assert_eq!(silent, vec![0.0; 4]);
    }

    #[test]
    fn converts_to_i16_with_clamping() {
        assert_eq!(
            to_i16(&[0.0, 0.5, -1.0, 1.0, 2.0, f32::NAN]),
            vec![0, 16384, -32768, 32767, 32767, 0]
        );
    }

    #[test]
    fn frame_and_duration_arithmetic() {
        assert_eq!(
            duration_to_frames(Duration::from_secs(1800), 44_100),
            79_380_000
        );
        assert_eq!(frames_to_duration(4000, 8000), Duration::from_millis(500));
        assert_eq!(duration_to_frames(Duration::MAX, 48_000), u64::MAX);
    }
}
