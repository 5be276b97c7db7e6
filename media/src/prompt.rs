//! Prompts encoded once into ready-to-send G.711 frames.

use crate::g711::{self, Codec};
use std::sync::Arc;
use std::time::Duration;

/// Samples (and G.711 bytes) per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// A prompt as 20 ms G.711 frames in both laws.
///
/// Cloning shares the encoded bytes, so one prompt played to thousands of
/// callers is stored once.
#[derive(Debug, Clone)]
pub struct PromptFrames {
    pcmu: Arc<[u8]>,
    pcma: Arc<[u8]>,
}

impl PromptFrames {
    /// Encodes 8 kHz linear audio to PCMU and PCMA, padding the last frame
    /// with each law's silence code.
    pub fn from_pcm(samples_8k: &[i16]) -> PromptFrames {
        let frames = samples_8k.len().div_ceil(FRAME_SAMPLES);
        let encode = |codec: Codec| -> Arc<[u8]> {
            let mut out = vec![codec.silence_byte(); frames * FRAME_SAMPLES];
            g711::encode(codec, samples_8k, &mut out);
            out.into()
        };
        PromptFrames {
            pcmu: encode(Codec::Pcmu),
            pcma: encode(Codec::Pcma),
        }
    }

    /// Number of 20 ms frames.
    pub fn frame_count(&self) -> usize {
        self.pcmu.len() / FRAME_SAMPLES
    }

    /// Frame `i` (160 bytes) in `codec`; empty if `i` is out of range.
    pub fn frame(&self, codec: Codec, i: usize) -> &[u8] {
        self.bytes(codec)
            .get(i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES)
            .unwrap_or(&[])
    }

    /// All frames in `codec`, back to back.
    pub fn bytes(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(20 * self.frame_count() as u64)
    }

    /// Whether `self` and `other` share the same encoded bytes.
    pub fn ptr_eq(&self, other: &PromptFrames) -> bool {
        Arc::ptr_eq(&self.pcmu, &other.pcmu) && Arc::ptr_eq(&self.pcma, &other.pcma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_last_frame_with_silence() {
        let pcm: Vec<i16> = (0..330).map(|i| (i * 50) as i16).collect();
        let p = PromptFrames::from_pcm(&pcm);
        assert_eq!(p.frame_count(), 3);
        assert_eq!(p.duration(), Duration::from_millis(60));
        for codec in [Codec::Pcmu, Codec::Pcma] {
            assert_eq!(p.bytes(codec).len(), 480);
            assert_eq!(p.frame(codec, 2).len(), 160);
            assert!(p.frame(codec, 2)[10..]
                .iter()
                .all(|&b| b == codec.silence_byte()));
            assert_eq!(p.frame(codec, 3), &[] as &[u8]);
        }
        assert_eq!(p.frame(Codec::Pcmu, 1)[0], g711::ulaw_encode(160 * 50));
        assert_eq!(p.frame(Codec::Pcma, 2)[9], g711::alaw_encode(329 * 50));
    }

    #[test]
    fn clones_share_bytes() {
        let p = PromptFrames::from_pcm(&[0; 1600]);
        let q = p.clone();
        assert!(p.ptr_eq(&q));
        assert_eq!(q.frame_count(), 10);
        assert!(PromptFrames::from_pcm(&[]).frame_count() == 0);
    }
}
