//! Decoding uploaded WAV and MP3 files to mono samples with symphonia.
//!
//! The container is recognised by its content, never by a file name: a text
//! file renamed `.mp3` is refused with [`PromptError::NotAudio`]. Decoding is
//! pull-based, one packet at a time, so the caller can stop (for example on
//! a duration limit) without decoding the rest of the file.

use std::io::{self, Cursor};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::well_known::{FORMAT_ID_MP3, FORMAT_ID_WAVE};
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;

use crate::PromptError;

/// Lowest accepted source sample rate in Hz.
pub const MIN_RATE: u32 = 8_000;
/// Highest accepted source sample rate in Hz.
pub const MAX_RATE: u32 = 48_000;
/// Most channels accepted (all are averaged to mono).
pub const MAX_CHANNELS: usize = 8;

/// What the file says about its audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// Container: `"wav"` or `"mp3"`.
    pub format: &'static str,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: u16,
    /// Length in frames (samples per channel) if the file states it (WAV
    /// header; MP3 Xing/Info or VBRI tag), never a guess.
    pub declared_frames: Option<u64>,
}

/// A WAV or MP3 decoder yielding mono `f32` samples in `[-1, 1]`.
pub struct Decoder<'a> {
    reader: Box<dyn FormatReader + 'a>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    info: SourceInfo,
    interleaved: Vec<f32>,
    frames: u64,
    done: bool,
}

impl std::fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("info", &self.info)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl<'a> Decoder<'a> {
    /// Probes `bytes` by content and prepares to decode its first audio track.
    pub fn open(bytes: &'a [u8]) -> Result<Decoder<'a>, PromptError> {
        if bytes.is_empty() {
            return Err(PromptError::Empty);
        }
        // Read-only on purpose: on a seekable source, symphonia guesses the
        // length of an MP3 without Info/Xing/VBRI tag from the bitrate of
        // its first frame, which can be far off for VBR. Without seeking,
        // a declared length is one the file really states.
        let source = MediaSourceStream::new(
            Box::new(ReadOnlySource::new(Cursor::new(bytes))),
            MediaSourceStreamOptions::default(),
        );
        let reader = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(probe_refusal)?;
        let format = match reader.format_info().format {
            FORMAT_ID_WAVE => "wav",
            FORMAT_ID_MP3 => "mp3",
            _ => return Err(PromptError::NotAudio),
        };
        let track = reader
            .default_track(TrackType::Audio)
            .ok_or(PromptError::NotAudio)?;
        let Some(CodecParameters::Audio(params)) = &track.codec_params else {
            return Err(PromptError::NotAudio);
        };
        let sample_rate = params.sample_rate.unwrap_or(0);
        if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
            return Err(PromptError::BadSampleRate { rate: sample_rate });
        }
        let channels = params.channels.as_ref().map_or(0, |c| c.count());
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(PromptError::Unsupported {
                codec: format!("{channels} channels"),
            });
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| match e {
                SymphoniaError::Unsupported(_) => PromptError::Unsupported {
                    codec: format!("{format} codec id {}", params.codec),
                },
                other => refusal(other),
            })?;
        let info = SourceInfo {
            format,
            sample_rate,
            // At most MAX_CHANNELS, so this fits.
            channels: channels as u16,
            declared_frames: track.num_frames,
        };
        Ok(Decoder {
            track_id: track.id,
            reader,
            decoder,
            info,
            interleaved: Vec::new(),
            frames: 0,
            done: false,
        })
    }

    /// What the file says about its audio.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Frames (samples per channel) decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames
    }

    /// Decodes the next packet and appends its samples, mixed to mono, to
    /// `out`. Returns `Ok(false)` once the audio has ended.
    ///
    /// A file that ends before the length it declares is refused with
    /// [`PromptError::Truncated`], damaged data with [`PromptError::Corrupt`].
    pub fn next_mono(&mut self, out: &mut Vec<f32>) -> Result<bool, PromptError> {
        if self.done {
            return Ok(false);
        }
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return self.finish(),
                Err(e) => {
                    self.done = true;
                    return Err(refusal(e));
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(e) => {
                    self.done = true;
                    return Err(refusal(e));
                }
            };
            let channels = decoded.spec().channels().count();
            if channels != usize::from(self.info.channels) || channels == 0 {
                self.done = true;
                return Err(PromptError::Corrupt {
                    reason: format!(
                        "channel count changes from {} to {channels}",
                        self.info.channels
                    ),
                });
            }
            decoded.copy_to_vec_interleaved(&mut self.interleaved);
            self.frames += (self.interleaved.len() / channels) as u64;
            mix_to_mono(&self.interleaved, channels, out);
            return Ok(true);
        }
    }

    fn finish(&mut self) -> Result<bool, PromptError> {
        self.done = true;
        match self.info.declared_frames {
            // A decoder may legitimately come up short by less than one
            // MP3 frame (encoder padding); a cut file loses more.
            Some(declared) if self.frames + 1152 < declared => Err(PromptError::Truncated),
            _ => Ok(false),
        }
    }
}

/// Appends the average of each frame's channels in `interleaved` to `out`.
pub fn mix_to_mono(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(interleaved),
        2 => out.extend(interleaved.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5)),
        n => {
            let scale = 1.0 / n as f32;
            out.extend(
                interleaved
                    .chunks_exact(n)
                    .map(|f| f.iter().sum::<f32>() * scale),
            );
        }
    }
}

/// Maps a symphonia error met while probing: only the WAV or MP3 reader,
/// once it recognised its container, can say more than "not audio" (the
/// probe also tries metadata readers on any "ID3" it meets in the bytes).
fn probe_refusal(e: SymphoniaError) -> PromptError {
    let from_container = |what: &str| ["wav", "riff", "mpa"].iter().any(|p| what.starts_with(p));
    match e {
        SymphoniaError::Unsupported(what) | SymphoniaError::DecodeError(what)
            if from_container(what) =>
        {
            refusal(e)
        }
        SymphoniaError::IoError(_)
        | SymphoniaError::Unsupported(_)
        | SymphoniaError::DecodeError(_) => PromptError::NotAudio,
        other => refusal(other),
    }
}

/// Maps a symphonia error met while decoding to the reason for refusing.
fn refusal(e: SymphoniaError) -> PromptError {
    match e {
        SymphoniaError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            PromptError::Truncated
        }
        SymphoniaError::IoError(e) => PromptError::Corrupt {
            reason: e.to_string(),
        },
        SymphoniaError::Unsupported(what) => PromptError::Unsupported {
            codec: what.to_string(),
        },
        other => PromptError::Corrupt {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_averages_channels() {
        let mut out = Vec::new();
        mix_to_mono(&[0.5, -0.5, 1.0, 0.0], 2, &mut out);
        mix_to_mono(&[0.25], 1, &mut out);
        mix_to_mono(&[0.3, 0.3, 0.6], 3, &mut out);
        assert_eq!(&out[..3], &[0.0, 0.5, 0.25]);
        assert!((out[3] - 0.4).abs() < 1e-6);
    }

    #[test]
    fn refuses_empty_and_garbage() {
        assert!(matches!(Decoder::open(&[]), Err(PromptError::Empty)));
        assert!(matches!(
            Decoder::open(b"hello, this is not audio at all"),
            Err(PromptError::NotAudio)
        ));
        assert!(matches!(Decoder::open(&[0]), Err(PromptError::NotAudio)));
    }
}
