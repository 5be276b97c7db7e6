//! In-band DTMF detection (ITU-T Q.23/Q.24) on 8 kHz linear audio.
//!
//! The audio is cut into Hann-windowed blocks of [`WINDOW`] samples (10 ms)
//! every [`HOP`] samples (5 ms). For each block a Goertzel filter per DTMF
//! frequency gives a complex bin value. A block is a *candidate* for a key
//! when the strongest low-group and high-group bins are both above the
//! minimum level, their ratio is within the twist limits and they hold most
//! of the block's energy (purity). The frequency deviation of each tone is
//! measured from the phase advance of its bin between consecutive blocks
//! (Δφ = 2π·Δf·HOP/8000, unambiguous up to ±100 Hz), which separates
//! ±1.5 % from ±3.5 % far better than bin magnitudes could.
//!
//! Consecutive valid blocks form a segment; a key is reported once the
//! segment holds [`MIN_BLOCKS`] blocks at full strength (≥ half the
//! segment's peak energy), which is what rejects 23 ms tones and accepts
//! 40 ms ones regardless of block alignment. The same key is reported again
//! only after [`RESET_BLOCKS`] blocks without it (a pause of about 20 ms).

use super::{Digit, HIGH_GROUP, KEYPAD, LOW_GROUP};
use std::f32::consts::PI;

/// Analysis block length in samples (10 ms at 8 kHz).
pub const WINDOW: usize = 80;
/// Hop between blocks in samples (5 ms).
pub const HOP: usize = 40;
/// Full-strength valid blocks needed before a key is reported.
pub const MIN_BLOCKS: usize = 5;
/// Consecutive blocks without the key before the same key can repeat.
pub const RESET_BLOCKS: u32 = 4;
/// Maximum accepted frequency deviation, as a fraction of the nominal frequency.
pub const MAX_DEVIATION: f32 = 0.025;
/// Minimum level of each tone, in dBm0.
pub const MIN_LEVEL_DBM0: f32 = -32.0;
/// Largest accepted reverse twist (high group above low group), in dB.
pub const MAX_REVERSE_TWIST_DB: f32 = 5.5;
/// Largest accepted standard twist (high group below low group), in dB.
pub const MAX_STANDARD_TWIST_DB: f32 = 9.5;
/// Minimum share of the block energy held by the two tones.
pub const MIN_PURITY: f32 = 0.75;

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear (µ-law scale).
const DBM0_PEAK: f32 = 22_657.0;
const SAMPLE_RATE: f32 = 8000.0;
const SEGMENT_MAX: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Bin {
    coef: f32,
    cos: f32,
    sin: f32,
    /// e^{-jω·HOP}: removes the nominal phase advance between blocks.
    rot: (f32, f32),
    /// Largest accepted |phase error| between blocks, in radians.
    max_phase: f32,
}

impl Bin {
    fn new(freq: f32) -> Bin {
        let w = 2.0 * PI * freq / SAMPLE_RATE;
        let adv = w * HOP as f32;
        Bin {
            coef: 2.0 * w.cos(),
            cos: w.cos(),
            sin: w.sin(),
            rot: (adv.cos(), -adv.sin()),
            max_phase: 2.0 * PI * freq * MAX_DEVIATION * HOP as f32 / SAMPLE_RATE,
        }
    }
}

/// One analysed block.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// Complex bin values: 4 low-group then 4 high-group.
    bins: [(f32, f32); 8],
    candidate: Option<(usize, usize)>,
    tone_energy: f32,
}

/// Goertzel-based in-band DTMF detector for one audio stream.
#[derive(Debug, Clone)]
pub struct Detector {
    filters: [Bin; 8],
    coefs: [f32; 8],
    window: [f32; WINDOW],
    samples: [f32; WINDOW],
    filled: usize,
    /// |X|² of a tone at the minimum level.
    min_power: f32,
    /// Converts Σ|X|² of the two tones into their share of the block energy.
    purity_scale: f32,
    prev: Block,
    segment: Option<Digit>,
    energies: [f32; SEGMENT_MAX],
    segment_len: usize,
    reported: Option<Digit>,
    absent: u32,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    /// A detector with empty history.
    pub fn new() -> Detector {
        let mut filters = [Bin::new(0.0); 8];
        for (i, f) in LOW_GROUP.iter().chain(HIGH_GROUP.iter()).enumerate() {
            filters[i] = Bin::new(*f);
        }
        let mut window = [0f32; WINDOW];
        for (n, w) in window.iter_mut().enumerate() {
            *w = 0.5 - 0.5 * (2.0 * PI * (n as f32 + 0.5) / WINDOW as f32).cos();
        }
        let s1: f32 = window.iter().sum();
        let s2: f32 = window.iter().map(|w| w * w).sum();
        // A sine of amplitude A gives |X| = A·S1/2 and contributes A²·S2/2
        // to the windowed block energy.
        let min_amp = DBM0_PEAK * 10f32.powf(MIN_LEVEL_DBM0 / 20.0);
        Detector {
            filters,
            coefs: filters.map(|f| f.coef),
            window,
            samples: [0.0; WINDOW],
            filled: 0,
            min_power: (min_amp * s1 / 2.0).powi(2),
            purity_scale: 2.0 * s2 / (s1 * s1),
            prev: Block::default(),
            segment: None,
            energies: [0.0; SEGMENT_MAX],
            segment_len: 0,
            reported: None,
            absent: RESET_BLOCKS,
        }
    }

    /// Forgets all history (e.g. after a codec change).
    pub fn reset(&mut self) {
        *self = Detector {
            filters: self.filters,
            coefs: self.coefs,
            window: self.window,
            ..Detector::new()
        };
    }

    /// Feeds audio of any length; returns the first key recognised in it.
    ///
    /// At most one key can start within 60 ms of audio, so for the usual
    /// 20 ms frames this sees every key; use [`Detector::feed_with`] for
    /// longer chunks.
    pub fn feed(&mut self, samples: &[i16]) -> Option<Digit> {
        let mut found = None;
        self.feed_with(samples, |d| {
            found.get_or_insert(d);
        });
        found
    }

    /// Feeds audio of any length, calling `on_digit` for every key recognised.
    pub fn feed_with(&mut self, samples: &[i16], mut on_digit: impl FnMut(Digit)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (WINDOW - self.filled).min(rest.len());
            for (dst, &s) in self.samples[self.filled..self.filled + take]
                .iter_mut()
                .zip(&rest[..take])
            {
                *dst = s as f32;
            }
            self.filled += take;
            rest = &rest[take..];
            if self.filled == WINDOW {
                if let Some(d) = self.analyse() {
                    on_digit(d);
                }
                self.samples.copy_within(HOP.., 0);
                self.filled = WINDOW - HOP;
            }
        }
    }

    fn analyse(&mut self) -> Option<Digit> {
        let block = self.block();
        let digit = self.validate(&block);
        self.prev = block;
        self.track(digit, block.tone_energy)
    }

    /// Goertzel filters and the candidate checks (level, twist, purity).
    fn block(&self) -> Block {
        let mut xw = [0f32; WINDOW];
        let mut energy = 0f32;
        for ((o, &s), &w) in xw.iter_mut().zip(&self.samples).zip(&self.window) {
            *o = s * w;
            energy += *o * *o;
        }
        // All eight filters run side by side so the recursions pipeline
        // (and vectorise) instead of forming one long dependency chain.
        let (mut s1, mut s2) = ([0f32; 8], [0f32; 8]);
        for &x in &xw {
            for k in 0..8 {
                let s = x + self.coefs[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s;
            }
        }
        let mut block = Block::default();
        let mut power = [0f32; 8];
        for (k, f) in self.filters.iter().enumerate() {
            let re = s1[k] - f.cos * s2[k];
            let im = f.sin * s2[k];
            block.bins[k] = (re, im);
            power[k] = re * re + im * im;
        }
        let argmax =
            |p: &[f32]| (1..p.len()).fold(0, |best, i| if p[i] > p[best] { i } else { best });
        let lo = argmax(&power[..4]);
        let hi = argmax(&power[4..]);
        let (pl, ph) = (power[lo], power[4 + hi]);
        block.tone_energy = pl + ph;
        let level_ok = pl >= self.min_power && ph >= self.min_power;
        let reverse = 10f32.powf(MAX_REVERSE_TWIST_DB / 10.0);
        let standard = 10f32.powf(-MAX_STANDARD_TWIST_DB / 10.0);
        let twist_ok = ph <= pl * reverse && ph >= pl * standard;
        let purity_ok = (pl + ph) * self.purity_scale >= MIN_PURITY * energy;
        if level_ok && twist_ok && purity_ok {
            block.candidate = Some((lo, hi));
        }
        block
    }

    /// The frequency check against the previous block.
    fn validate(&self, block: &Block) -> Option<Digit> {
        let (lo, hi) = block.candidate?;
        if self.prev.candidate != Some((lo, hi)) {
            return None;
        }
        for k in [lo, 4 + hi] {
            let f = &self.filters[k];
            let (ar, ai) = block.bins[k];
            let (br, bi) = self.prev.bins[k];
            // a · conj(b) · e^{-jω·HOP}
            let (zr, zi) = (ar * br + ai * bi, ai * br - ar * bi);
            let (rr, ri) = (zr * f.rot.0 - zi * f.rot.1, zr * f.rot.1 + zi * f.rot.0);
            if ri.atan2(rr).abs() > f.max_phase {
                return None;
            }
        }
        Some(KEYPAD[lo * 4 + hi])
    }

    /// Segments valid blocks into key presses.
    fn track(&mut self, digit: Option<Digit>, energy: f32) -> Option<Digit> {
        let Some(d) = digit else {
            self.segment = None;
            self.absent = self.absent.saturating_add(1);
            if self.absent >= RESET_BLOCKS {
                self.reported = None;
            }
            return None;
        };
        if self.segment != Some(d) {
            self.segment = Some(d);
            self.segment_len = 0;
        }
        if self.segment_len < SEGMENT_MAX {
            self.energies[self.segment_len] = energy;
            self.segment_len += 1;
        }
        if self.reported == Some(d) {
            self.absent = 0;
            return None;
        }
        let seg = &self.energies[..self.segment_len];
        let peak = seg.iter().fold(0f32, |m, &e| m.max(e));
        let strong = seg.iter().filter(|&&e| e >= 0.5 * peak).count();
        if strong >= MIN_BLOCKS {
            self.reported = Some(d);
            self.absent = 0;
            return Some(d);
        }
        None
    }
}
