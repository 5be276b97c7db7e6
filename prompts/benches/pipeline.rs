//! The upload pipeline on a 10-minute 44.1 kHz stereo 128 kbps MP3:
//! decode + resample + G.711 encode, reported as seconds of audio per
//! second of CPU (target: at least 300).
//!
//! The MP3 is made at bench time with sox and lame in a temporary
//! directory (it is 10 MB, not committed); without them the bench is
//! skipped with the reason printed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::Criterion;
use ura_prompts::decode::Decoder;
use ura_prompts::resample::Resampler8k;
use ura_prompts::{import, ImportOptions};

const SECONDS: u32 = 600;

/// CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Makes the 10-minute MP3: music-like content (a chord with a slow sweep
/// and some noise) so the encoder has real work, piped from sox to lame.
fn make_mp3() -> Result<(PathBuf, Vec<u8>), String> {
    for program in ["sox", "lame"] {
        if !have(program) {
            return Err(format!(
                "`{program}` is not installed (Debian package `{program}`)"
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("ura-prompts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mp3 = dir.join("ten-minutes.mp3");
    let script = format!(
        "sox -V1 -R -n -r 44100 -c 2 -b 16 -t wav - synth {SECONDS} sine 220-880 sine 330 \
         pinknoise remix 1,2,3 1,3 vol 0.25 | lame --quiet --cbr -b 128 - '{}'",
        mp3.display()
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("sox | lame failed: {status}"));
    }
    let bytes = std::fs::read(&mp3).map_err(|e| e.to_string())?;
    Ok((dir, bytes))
}

fn report(what: &str, run: impl FnOnce()) {
    let (cpu, wall) = (cpu_time(), std::time::Instant::now());
    run();
    let (cpu, wall) = (cpu_time() - cpu, wall.elapsed());
    println!(
        "{what:<28} {:>7.3} s CPU {:>7.3} s wall  {:>6.0}x real time (CPU)",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        f64::from(SECONDS) / cpu.as_secs_f64()
    );
}

fn main() {
    let (dir, mp3) = match make_mp3() {
        Ok(made) => made,
        Err(reason) => {
            println!("pipeline bench skipped: {reason}");
            return;
        }
    };
    println!(
        "{SECONDS} s of 44.1 kHz stereo 128 kbps MP3, {} bytes",
        mp3.len()
    );
    let opts = ImportOptions::default();

    // One measured pass of each stage, then of the whole pipeline.
    let mut mono = Vec::new();
    report("decode + mix to mono", || {
        let mut d = Decoder::open(&mp3).expect("decodes");
        let mut chunk = Vec::new();
        while d.next_mono(&mut chunk).expect("decodes") {}
        mono = chunk;
    });
    let mut pcm = Vec::new();
    report("resample 44.1 -> 8 kHz", || {
        let mut r = Resampler8k::new(44_100).expect("rate");
        for piece in mono.chunks(1152) {
            r.push(piece).expect("resamples");
        }
        pcm = r.finish().expect("resamples");
    });
    report("to i16 + G.711 encode", || {
        let pcm = ura_prompts::pipeline::to_i16(&pcm);
        std::hint::black_box(ura_media::prompt::PromptFrames::from_pcm(&pcm));
    });
    report("import (all of it)", || {
        let p = import(&mp3, &opts).expect("imports");
        assert_eq!(p.duration.as_secs(), u64::from(SECONDS));
    });

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    c.bench_function("import 10 min mp3 44.1k stereo", |b| {
        b.iter(|| import(std::hint::black_box(&mp3), &opts).expect("imports"))
    });
    c.final_summary();
    let _ = std::fs::remove_dir_all(dir);
}
