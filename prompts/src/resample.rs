//! Resampling mono audio to 8 kHz with a windowed-sinc filter (rubato).
//!
//! Downsampling must remove everything above 4 kHz first, or it folds back
//! into the telephone band as audible aliases. The filter here is a 256-tap
//! Blackman-Harris windowed sinc at rubato's automatic cutoff for that
//! length, evaluated with linear interpolation between 256 precomputed
//! phases. Measured (see `tests/resampling.rs`): a 5 kHz tone in a 44.1 kHz
//! file comes out more than 100 dB down (the requirement is 40 dB), 4.6 kHz
//! at 48 kHz too, while 300–3400 Hz stays within 0.2 dB. Channels are mixed
//! to mono before, so the filter runs once per sample whatever the source.
//! Audio already at 8 kHz passes through unchanged.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler as _, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::PromptError;

/// The telephone sample rate every prompt ends at.
pub const TARGET_RATE: u32 = 8_000;

/// Input frames per resampler call.
const CHUNK: usize = 4096;
/// Length of the sinc filter in input samples.
const SINC_LEN: usize = 256;
/// Precomputed filter phases between two input samples.
const OVERSAMPLING: usize = 256;

/// Streaming conversion of one mono signal to 8 kHz: feed it with
/// [`push`](Self::push) as the decoder produces samples, collect the result
/// with [`finish`](Self::finish).
pub struct Resampler8k {
    inner: Option<Async<f32>>,
    source_rate: u32,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    out: Vec<f32>,
    input_frames: u64,
}

impl std::fmt::Debug for Resampler8k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler8k")
            .field("source_rate", &self.source_rate)
            .field("input_frames", &self.input_frames)
            .finish_non_exhaustive()
    }
}

impl Resampler8k {
    /// A converter from `source_rate` Hz (any positive rate; 8000 is a
    /// pass-through).
    pub fn new(source_rate: u32) -> Result<Resampler8k, PromptError> {
        if source_rate == 0 {
            return Err(PromptError::BadSampleRate { rate: 0 });
        }
        let inner = if source_rate == TARGET_RATE {
            None
        } else {
            let params = SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris)
                .oversampling_factor(OVERSAMPLING)
                .interpolation(SincInterpolationType::Linear);
            let ratio = f64::from(TARGET_RATE) / f64::from(source_rate);
            Some(
                Async::<f32>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input).map_err(
                    |e| PromptError::Resample {
                        reason: e.to_string(),
                    },
                )?,
            )
        };
        let scratch = vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(Resampler8k {
            inner,
            source_rate,
            pending: Vec::new(),
            scratch,
            out: Vec::new(),
            input_frames: 0,
        })
    }

    /// Output samples so far (including the filter delay until `finish`).
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Converts what it can of `mono`, keeping the rest for the next call.
    pub fn push(&mut self, mono: &[f32]) -> Result<(), PromptError> {
        self.input_frames += mono.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            self.out.extend_from_slice(mono);
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let mut used = 0;
        while self.pending.len() - used >= inner.input_frames_next() {
            used += run(
                inner,
                &self.pending[used..],
                None,
                &mut self.scratch,
                &mut self.out,
            )?;
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Converts the remaining input, flushes the filter and returns all of
    /// the 8 kHz signal, aligned with the input and exactly
    /// `round(input_len × 8000 / source_rate)` samples long.
    pub fn finish(mut self) -> Result<Vec<f32>, PromptError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(self.out);
        };
        let expected = ((self.input_frames as f64) * f64::from(TARGET_RATE)
            / f64::from(self.source_rate))
        .round() as usize;
        let delay = inner.output_delay();
        let pending = std::mem::take(&mut self.pending);
        let mut partial = Some(pending.len());
        while self.out.len() < delay + expected {
            let input: &[f32] = if partial.is_some() { &pending } else { &[] };
            let input = if input.is_empty() { &[0.0][..] } else { input };
            let before = self.out.len();
            run(
                inner,
                input,
                Some(partial.take().unwrap_or(0)),
                &mut self.scratch,
                &mut self.out,
            )?;
            if self.out.len() == before {
                // Cannot happen with rubato's fixed-input mode; never spin.
                break;
            }
        }
        self.out.resize(self.out.len().max(delay + expected), 0.0);
        self.out.drain(..delay.min(self.out.len()));
        self.out.truncate(expected);
        Ok(self.out)
    }
}

/// One resampler call on the start of `input` (or, with `partial`, on its
/// first `partial` samples padded with silence); appends the output to
/// `out` and returns how many input samples it used.
fn run(
    inner: &mut Async<f32>,
    input: &[f32],
    partial: Option<usize>,
    scratch: &mut [f32],
    out: &mut Vec<f32>,
) -> Result<usize, PromptError> {
    let fail = |e: &dyn std::fmt::Display| PromptError::Resample {
        reason: e.to_string(),
    };
    let frames_out = scratch.len();
    let buf_in = InterleavedSlice::new(input, 1, input.len()).map_err(|e| fail(&e))?;
    let mut buf_out = InterleavedSlice::new_mut(scratch, 1, frames_out).map_err(|e| fail(&e))?;
    let indexing = partial.map(|n| Indexing::new().partial_len(n));
    let (used, made) = inner
        .process_into_buffer(&buf_in, &mut buf_out, indexing.as_ref())
        .map_err(|e| fail(&e))?;
    out.extend_from_slice(&scratch[..made]);
    Ok(used)
}

/// Converts a whole mono signal at `source_rate` Hz to 8 kHz.
pub fn to_8k(mono: &[f32], source_rate: u32) -> Result<Vec<f32>, PromptError> {
    let mut r = Resampler8k::new(source_rate)?;
    for chunk in mono.chunks(CHUNK * 4) {
        r.push(chunk)?;
    }
    r.finish()
}
