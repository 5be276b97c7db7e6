//! `ura prompt record`: a prompt from the local microphone (cpal), behind
//! the `local-audio` feature. What was recorded goes through the same
//! pipeline as an upload (resample to 8 kHz, trim, normalise, encode).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use crate::error::UraError;

/// Interleaved samples of `channels` channels, mixed to mono 16-bit.
pub fn to_mono_i16(interleaved: &[f32], channels: u16) -> Vec<i16> {
    let ch = usize::from(channels.max(1));
    interleaved
        .chunks(ch)
        .map(|frame| {
            let mean = frame.iter().sum::<f32>() / frame.len() as f32;
            (mean.clamp(-1.0, 1.0) * 32767.0) as i16
        })
        .collect()
}

/// A mono 16-bit WAV at any rate.
pub fn wav_at(pcm: &[i16], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    if let Ok(mut w) = hound::WavWriter::new(&mut out, spec) {
        for s in pcm {
            let _ = w.write_sample(*s);
        }
        let _ = w.finalize();
    }
    out.into_inner()
}

/// Records from the default input device until Enter is pressed or `max`
/// has passed, or `max` of audio has arrived (a device that delivers faster
/// than real time cannot fill memory); returns a WAV file of what was heard.
pub fn record(max: Duration) -> Result<Vec<u8>, UraError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        UraError::Config(format!("microphone: {what}: {e}"))
    };
    let host = cpal::default_host();
    let device = host.default_input_device().ok_or_else(|| {
        UraError::Config(
            "microphone: no input device (is a sound card or PulseAudio there?)".into(),
        )
    })?;
    let supported = device
        .default_input_config()
        .map_err(|e| fail("no input configuration", &e))?;
    let (rate, channels) = (supported.sample_rate(), supported.channels());
    let cap = max.as_secs() as usize * rate as usize * usize::from(channels);
    let kept = Arc::new(Mutex::new(Vec::<f32>::new()));
    let sink = kept.clone();
    let on_error = |e: cpal::Error| eprintln!("ura: microphone: {e}");
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream(
            supported.config(),
            move |data: &[f32], _: &cpal::InputCallbackInfo| {
                if let Ok(mut k) = sink.lock() {
                    let room = cap.saturating_sub(k.len());
                    k.extend_from_slice(&data[..data.len().min(room)]);
                }
            },
            on_error,
            Some(Duration::from_secs(5)),
        ),
        cpal::SampleFormat::I16 => device.build_input_stream(
            supported.config(),
            move |data: &[i16], _: &cpal::InputCallbackInfo| {
                if let Ok(mut k) = sink.lock() {
                    let room = cap.saturating_sub(k.len());
                    k.extend(data.iter().take(room).map(|s| f32::from(*s) / 32768.0));
                }
            },
            on_error,
            Some(Duration::from_secs(5)),
        ),
        other => {
            return Err(UraError::Config(format!(
                "microphone: sample format {other:?} is not supported"
            )))
        }
    }
    .map_err(|e| fail("cannot open", &e))?;
    stream.play().map_err(|e| fail("cannot start", &e))?;
    eprintln!(
        "recording at {rate} Hz, {channels} channel(s), {:?}: press Enter to stop (at most {} s)",
        supported.sample_format(),
        max.as_secs()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    let started = Instant::now();
    let full = || kept.lock().map_or(true, |k| k.len() >= cap);
    while started.elapsed() < max && rx.try_recv().is_err() && !full() {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stream);
    let samples = kept.lock().map(|k| k.clone()).unwrap_or_default();
    Ok(wav_at(&to_mono_i16(&samples, channels), rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_mixed_and_scaled() {
        let pcm = to_mono_i16(&[1.0, 0.0, -0.5, -0.5, 2.0, 2.0], 2);
        assert_eq!(pcm, [16383, -16383, 32767]);
        let wav = wav_at(&pcm, 48_000);
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        assert_eq!(reader.spec().sample_rate, 48_000);
        assert_eq!(reader.len(), 3);
    }
}
