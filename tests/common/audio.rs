//! What a caller heard, judged as sound and independently of how ura made
//! it: PCMU decoded here from the G.711 definition (not with ura's codec),
//! a tone's frequency by Goertzel and by zero crossings, its level, how long
//! it lasts, and the normalized cross-correlation with a known signal.

/// Samples per second of G.711.
pub const RATE: f64 = 8000.0;

/// One µ-law code to a linear sample (ITU-T G.711: complement, sign,
/// 3-bit segment, 4-bit step; bias 0x84).
pub fn ulaw_to_linear(code: u8) -> i16 {
    let c = !code;
    let segment = (c >> 4) & 0x07;
    let step = i32::from(c & 0x0F);
    let magnitude = (((step << 3) + 0x84) << segment) - 0x84;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// PCMU bytes as samples in `[-1, 1]`.
pub fn decode(pcmu: &[u8]) -> Vec<f64> {
    pcmu.iter()
        .map(|&c| f64::from(ulaw_to_linear(c)) / 32768.0)
        .collect()
}

/// The share of the energy of `x` that lies at `freq` (Goertzel): near 1
/// for a pure tone at a bin centre, small for speech, noise or silence.
pub fn share_at(x: &[f64], freq: f64) -> f64 {
    let energy: f64 = x.iter().map(|v| v * v).sum();
    if x.is_empty() || energy < 1e-9 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / RATE).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    (2.0 * power / (x.len() as f64 * energy)).min(1.0)
}

/// A tone's frequency from its rising zero crossings (interpolated).
pub fn zero_crossing_freq(x: &[f64]) -> f64 {
    let crossings: Vec<f64> = (1..x.len())
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .map(|i| (i - 1) as f64 + x[i - 1] / (x[i - 1] - x[i]))
        .collect();
    if crossings.len() < 2 {
        return 0.0;
    }
    (crossings.len() - 1) as f64 * RATE / (crossings[crossings.len() - 1] - crossings[0])
}

/// Root mean square level in dBFS (a full-scale sine is −3 dBFS).
pub fn rms_dbfs(x: &[f64]) -> f64 {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-12).log10()
}

/// The longest run of 20 ms frames in which a tone at `freq` holds at
/// least 80 % of the energy: `(first frame, frames)`.
pub fn tone_run(frames: &[Vec<u8>], freq: f64) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut start = None;
    for (i, f) in frames.iter().enumerate() {
        let tone = share_at(&decode(f), freq) >= 0.8;
        match (tone, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if best.is_none_or(|(_, n)| i - s > n) {
                    best = Some((s, i - s));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        if best.is_none_or(|(_, n)| frames.len() - s > n) {
            best = Some((s, frames.len() - s));
        }
    }
    best
}

/// Checks that `frames` hold a tone at `freq` lasting `secs` (±0.1 s) at
/// `rms_dbfs` (±1.5 dB); returns the frame where it starts.
pub fn assert_tone(frames: &[Vec<u8>], freq: f64, secs: f64, level_dbfs: f64, what: &str) -> usize {
    let (at, n) = tone_run(frames, freq)
        .unwrap_or_else(|| panic!("{what}: no {freq} Hz tone in {} frames", frames.len()));
    let lasted = n as f64 * 0.02;
    assert!(
        (lasted - secs).abs() <= 0.1,
        "{what}: the {freq} Hz tone lasted {lasted:.2} s, not {secs} s"
    );
    // The middle of the tone, away from its edges.
    let samples: Vec<f64> = frames[at + 2..at + n - 2]
        .iter()
        .flat_map(|f| decode(f))
        .collect();
    let heard = zero_crossing_freq(&samples);
    assert!(
        (heard - freq).abs() < 2.0,
        "{what}: zero crossings say {heard:.1} Hz, not {freq} Hz"
    );
    let level = rms_dbfs(&samples);
    assert!(
        (level - level_dbfs).abs() <= 1.5,
        "{what}: the tone is at {level:.1} dBFS RMS, not {level_dbfs} dBFS"
    );
    at
}

/// The best normalized cross-correlation of `template` at any start in
/// `signal` (1.0: the same waveform, whatever the gain), and that start.
pub fn best_ncc(signal: &[f64], template: &[f64]) -> (f64, usize) {
    let n = template.len();
    let t_energy: f64 = template.iter().map(|v| v * v).sum();
    let mut best = (0.0, 0);
    for s in 0..=signal.len().saturating_sub(n) {
        let window = &signal[s..s + n];
        let dot: f64 = window.iter().zip(template).map(|(a, b)| a * b).sum();
        let w_energy: f64 = window.iter().map(|v| v * v).sum();
        let ncc = dot / (t_energy * w_energy).sqrt().max(1e-12);
        if ncc > best.0 {
            best = (ncc, s);
        }
    }
    best
}
