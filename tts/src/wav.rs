//! A small WAV (RIFF) reader and writer for 16-bit PCM.
//!
//! The reader accepts what TTS engines write while streaming: a `data` chunk
//! whose declared size is 0, 0xFFFFFFFF or simply larger than the file means
//! "until the end of the file".

use crate::audio::{Audio, MAX_SAMPLE_RATE};
use crate::error::TtsError;

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
const MAX_CHANNELS: u16 = 8;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

struct Format {
    channels: u16,
    sample_rate: u32,
}

fn parse_fmt(body: &[u8]) -> Result<Format, TtsError> {
    let bad = |m: &str| TtsError::BadAudio(format!("WAV fmt chunk: {m}"));
    let tag = u16_at(body, 0).ok_or_else(|| bad("too short"))?;
    let channels = u16_at(body, 2).ok_or_else(|| bad("too short"))?;
    let sample_rate = u32_at(body, 4).ok_or_else(|| bad("too short"))?;
    let bits = u16_at(body, 14).ok_or_else(|| bad("too short"))?;
    let pcm = match tag {
        FORMAT_PCM => true,
        // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the format tag.
        FORMAT_EXTENSIBLE => u16_at(body, 24) == Some(FORMAT_PCM),
        _ => false,
    };
    if !pcm {
        return Err(bad(&format!("format {tag:#06x} is not integer PCM")));
    }
    if bits != 16 {
        return Err(bad(&format!(
            "{bits}-bit samples, only 16-bit is supported"
        )));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(bad(&format!("{channels} channels")));
    }
    if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
        return Err(bad(&format!("sample rate {sample_rate} Hz")));
    }
    Ok(Format {
        channels,
        sample_rate,
    })
}

/// Decodes a 16-bit PCM WAV file; several channels are mixed down to mono.
pub fn parse_wav(bytes: &[u8]) -> Result<Audio, TtsError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(TtsError::BadAudio(format!(
            "not a WAV file (starts with {:?})",
            crate::error::excerpt(bytes.get(..16).unwrap_or(bytes), 16)
        )));
    }
    let mut at = 12usize;
    let mut format: Option<Format> = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let start = at + 8;
        let remaining = bytes.len() - start.min(bytes.len());
        let declared = usize::try_from(size).unwrap_or(usize::MAX);
        if id == b"data" {
            let fmt = format.ok_or_else(|| {
                TtsError::BadAudio("WAV data chunk before its fmt chunk".to_string())
            })?;
            let len = if declared == 0 || declared > remaining {
                remaining
            } else {
                declared
            };
            return Ok(decode_pcm(&bytes[start..start + len], &fmt));
        }
        if declared > remaining {
            return Err(TtsError::BadAudio(format!(
                "WAV chunk {:?} runs past the end of the file",
                String::from_utf8_lossy(id)
            )));
        }
        if id == b"fmt " {
            format = Some(parse_fmt(&bytes[start..start + declared])?);
        }
        // Chunks are padded to an even length.
        at = start + declared + (declared & 1);
    }
    Err(TtsError::BadAudio("WAV file has no data chunk".to_string()))
}

fn decode_pcm(data: &[u8], fmt: &Format) -> Audio {
    let channels = usize::from(fmt.channels);
    let frame = 2 * channels;
    let samples = data
        .chunks_exact(frame)
        .map(|f| {
            let sum: i32 = f
                .chunks_exact(2)
                .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                .sum();
            // The mean of i16 values always fits an i16.
            (sum / channels as i32) as i16
        })
        .collect();
    Audio::new(samples, fmt.sample_rate)
}

/// Encodes mono audio as a canonical 16-bit PCM WAV file.
///
/// Fails only when the audio is too long for a WAV file (over 4 GiB of samples).
pub fn encode_wav(audio: &Audio) -> Result<Vec<u8>, TtsError> {
    let data_len = audio
        .samples
        .len()
        .checked_mul(2)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= u32::MAX - 36)
        .ok_or_else(|| TtsError::BadAudio("audio too long for a WAV file".to_string()))?;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.wrapping_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in &audio.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_audio() -> Audio {
        Audio::new(vec![0, 1, -1, i16::MAX, i16::MIN, 1234, -4321], 22_050)
    }

    #[test]
    fn round_trip() {
        let a = sample_audio();
        let bytes = encode_wav(&a).unwrap();
        assert_eq!(bytes.len(), 44 + 14);
        assert_eq!(parse_wav(&bytes).unwrap(), a);
    }

    /// What `encode_wav` writes, read by another implementation (hound):
    /// mono, the rate, 16-bit integer PCM, the same samples.
    #[test]
    fn hound_reads_what_encode_wav_writes() {
        let a = sample_audio();
        let bytes = encode_wav(&a).unwrap();
        let mut reader = hound::WavReader::new(std::io::Cursor::new(&bytes)).unwrap();
        let spec = reader.spec();
        assert_eq!(spec.channels, 1);
        assert_eq!(spec.sample_rate, 22_050);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        assert_eq!(reader.duration(), 7);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples, a.samples);
    }

    /// What hound writes (mono and stereo), read by `parse_wav`.
    #[test]
    fn parse_wav_reads_what_hound_writes() {
        for channels in [1u16, 2] {
            let spec = hound::WavSpec {
                channels,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut cursor = std::io::Cursor::new(Vec::new());
            let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
            for s in [100i16, -2000, 32_000, -32_000] {
                for _ in 0..channels {
                    writer.write_sample(s).unwrap();
                }
            }
            writer.finalize().unwrap();
            let a = parse_wav(cursor.get_ref()).unwrap();
            assert_eq!(a, Audio::new(vec![100, -2000, 32_000, -32_000], 16_000));
        }
    }

    #[test]
    fn streaming_sizes_mean_until_end_of_file() {
        let a = sample_audio();
        for size in [0u32, 0xFFFF_FFFF, 0x7FFF_F000] {
            let mut bytes = encode_wav(&a).unwrap();
            bytes[4..8].copy_from_slice(&size.to_le_bytes());
            bytes[40..44].copy_from_slice(&size.to_le_bytes());
            assert_eq!(parse_wav(&bytes).unwrap(), a, "size {size:#x}");
        }
    }

    #[test]
    fn trailing_odd_byte_is_dropped() {
        let mut bytes = encode_wav(&sample_audio()).unwrap();
        bytes[40..44].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        bytes.push(7);
        assert_eq!(parse_wav(&bytes).unwrap().samples.len(), 7);
    }

    #[test]
    fn extra_chunks_are_skipped_and_stereo_is_mixed() {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        b.extend_from_slice(b"LIST");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(b"abc\0"); // odd size + pad byte
        b.extend_from_slice(b"fmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        for v in [1u16, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&16_000u32.to_le_bytes());
        b.extend_from_slice(&64_000u32.to_le_bytes());
        for v in [4u16, 16] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(b"data");
        b.extend_from_slice(&8u32.to_le_bytes());
        for s in [100i16, 300, -10, -30] {
            b.extend_from_slice(&s.to_le_bytes());
        }
        let a = parse_wav(&b).unwrap();
        assert_eq!(a, Audio::new(vec![200, -20], 16_000));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let good = encode_wav(&sample_audio()).unwrap();
        // Every truncation and a byte flip at every header position.
        for cut in 0..good.len() {
            let _ = parse_wav(&good[..cut]);
        }
        for i in 0..44 {
            for v in [0u8, 0xFF, 0x80] {
                let mut b = good.clone();
                b[i] = v;
                let _ = parse_wav(&b);
            }
        }
        assert!(matches!(
            parse_wav(b"{\"error\":\"quota\"}"),
            Err(TtsError::BadAudio(_))
        ));
        assert!(parse_wav(&good[..30]).is_err());
        let mut eight_bit = good.clone();
        eight_bit[34] = 8;
        assert!(parse_wav(&eight_bit).is_err());
        let mut float = good;
        float[20] = 3;
        assert!(parse_wav(&float).is_err());
    }
}
