//! `ura prompt record` end to end (built with `--features local-audio`):
//! ALSA's `file` plugin stands in for the microphone, reading a known signal
//! (0.5 s of silence, 2 s of 440 Hz, 0.5 s of silence) from a file. It
//! delivers faster than real time, so the recording ends when `--max-seconds`
//! of audio has arrived, which is exactly the file. The saved prompt must be
//! the tone alone (silence trimmed), at 8 kHz, still 440 Hz.
#![cfg(feature = "local-audio")]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What cpal opens on ALSA's `null` device behind the `file` plugin here:
/// the infile must be written in this format.
const RATE: usize = 48_000;
const FORMAT_LINE: &str = "recording at 48000 Hz, 2 channel(s), F32";

fn ura(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn prompt_record_takes_the_microphone_through_the_upload_pipeline() {
    let alsa = std::path::Path::new("/usr/share/alsa/alsa.conf");
    if !alsa.exists() {
        panic!(
            "no /usr/share/alsa/alsa.conf: install the Debian package `libasound2-data` \
             (it comes with libasound2-dev, which the local-audio feature needs)"
        );
    }
    let dir = std::env::temp_dir().join(format!("ura-mic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let infile = dir.join("microphone.f32");
    let mut raw = Vec::new();
    for i in 0..3 * RATE {
        let t = i as f64 / RATE as f64;
        let v = if (0.5..2.5).contains(&t) {
            (0.25 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32
        } else {
            0.0
        };
        raw.extend_from_slice(&v.to_le_bytes());
        raw.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&infile, raw).unwrap();
    let conf = dir.join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "<{}>\npcm.!default {{\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n \
             infile \"{}\"\n format \"raw\"\n}}\n",
            alsa.display(),
            infile.display()
        ),
    )
    .unwrap();
    let data = dir.join("data");
    // Stdin stays open (a closed one is an Enter); the child is bounded below.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args([
            "prompt",
            "record",
            "mic",
            "--max-seconds",
            "3",
            "--data-dir",
        ])
        .arg(&data)
        .env("ALSA_CONFIG_PATH", &conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ura prompt record still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains(FORMAT_LINE),
        "the infile assumes {FORMAT_LINE:?}: {err}"
    );

    let list = ura(&data, &["prompt", "list"]);
    let line = list
        .lines()
        .find(|l| l.starts_with("mic "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("recording"), "{line}");
    let out = dir.join("mic.wav");
    ura(
        &data,
        &["prompt", "render", "mic", "--to", out.to_str().unwrap()],
    );
    let mut reader = hound::WavReader::open(&out).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    let pcm: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    // The silence is trimmed: 2 s of tone and the pipeline's margin of 50 ms
    // on each side.
    let secs = pcm.len() as f64 / 8000.0;
    assert!((secs - 2.1).abs() < 0.02, "{secs} s kept");
    // Still 440 Hz: zero crossings over the middle second.
    let mid = &pcm[4000..12000];
    let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!(
        (crossings as f64 / 2.0 - 440.0).abs() < 3.0,
        "{crossings} zero crossings in 1 s"
    );
}
