//! A headless baresip for the tests: configuration written to a fresh
//! directory, driven over `ctrl_tcp` (netstring JSON), its microphone a
//! WAV file (`aufile`) and what it hears recorded (`sndfile`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Ura;

/// baresip quits by itself after this (`-t`), and is killed on drop anyway.
pub const BARESIP_SECONDS: u32 = 40;
/// Sample rate of the prompts and of PCMU.
pub const RATE: usize = 8000;

/// A headless baresip with its control connection, killed on drop.
pub struct Baresip {
    child: Child,
    /// Its directory (configuration, log, recordings).
    pub dir: PathBuf,
    ctrl: TcpStream,
    events: Receiver<Value>,
    seen: Vec<Value>,
}

impl Baresip {
    /// Writes a configuration into a fresh temporary directory and starts
    /// baresip on it, as a phone that registers nowhere.
    pub fn start(program: &Path) -> Baresip {
        Baresip::start_with(
            program,
            "<sip:baresip@127.0.0.1>;regint=0;audio_codecs=PCMU",
            &vec![0; 20 * RATE],
        )
    }

    /// Starts baresip with `account` (a line of its `accounts` file) and
    /// `mic` (8 kHz samples) as its microphone.
    pub fn start_with(program: &Path, account: &str, mic: &[i16]) -> Baresip {
        let dir = std::env::temp_dir().join(format!(
            "ura-baresip-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(dir.join("rec")).expect("baresip directory");
        write_wav(&dir.join("mic.wav"), mic);
        let ctrl_port = super::sipp::free_port();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:0\n\
             net_interface 127.0.0.1\n\
             call_max_calls 1\n\
             audio_source aufile,{dir}/mic.wav\n\
             audio_player aubridge,null\n\
             audio_alert aubridge,null\n\
             rtp_ports 20000-29998\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module ctrl_tcp.so\n\
             module_tmp account.so\n\
             module_app menu.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             snd_path {dir}/rec\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(dir.join("accounts"), format!("{account}\n")).unwrap();
        let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
        let mut child = Command::new(program)
            .arg("-f")
            .arg(&dir)
            .args(["-s", "-t", &BARESIP_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn baresip");
        let deadline = Instant::now() + Duration::from_secs(5);
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl_port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("baresip ctrl_tcp: {e}; log: {}", log_of(&dir));
                }
            }
        };
        // baresip's events and responses: netstrings (`len:json,`).
        let (tx, events) = mpsc::channel();
        let mut reader = BufReader::new(ctrl.try_clone().unwrap());
        std::thread::spawn(move || loop {
            let mut len = Vec::new();
            if reader.read_until(b':', &mut len).unwrap_or(0) == 0 {
                return;
            }
            let Ok(n) = String::from_utf8_lossy(&len[..len.len() - 1]).parse::<usize>() else {
                return;
            };
            let mut body = vec![0; n + 1]; // and the trailing ','
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if let Ok(v) = serde_json::from_slice(&body[..n]) {
                let _ = tx.send(v);
            }
        });
        Baresip {
            child,
            dir,
            ctrl,
            events,
            seen: Vec::new(),
        }
    }

    /// Sends one ctrl_tcp command.
    pub fn command(&mut self, command: &str, params: &str) {
        let json = serde_json::json!({ "command": command, "params": params, "token": command })
            .to_string();
        let frame = format!("{}:{},", json.len(), json);
        self.ctrl
            .write_all(frame.as_bytes())
            .expect("ctrl_tcp write");
    }

    /// Waits up to `timeout` for an event of `kind` (`CALL_ESTABLISHED`, …).
    pub fn event(&mut self, kind: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let v = self.events.recv_timeout(left).ok()?;
            self.seen.push(v.clone());
            if v["type"] == kind {
                return Some(v);
            }
        }
    }

    /// Asks baresip to quit and waits (up to 5 s, then kills it), so that
    /// the recording is closed.
    pub fn quit(&mut self) {
        self.command("quit", "");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The decoded audio baresip received (`sndfile`'s `*-dec.wav`).
    pub fn recording(&self) -> Option<Vec<f32>> {
        let path = std::fs::read_dir(self.dir.join("rec"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))?;
        Some(read_wav(&path))
    }

    pub fn log(&self) -> String {
        log_of(&self.dir)
    }

    /// Everything worth reading when the test fails.
    pub fn report(&self, ura: &Ura) -> String {
        format!(
            "baresip directory {}\n--- baresip events\n{}\n--- baresip log\n{}\n--- ura logs\n{}",
            self.dir.display(),
            self.seen
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            self.log(),
            ura.logs().join("\n"),
        )
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn log_of(dir: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join("baresip.log")).unwrap_or_default())
        .into_owned()
}

pub fn write_wav(path: &Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A 16-bit mono 8 kHz WAV as samples in [-1, 1].
pub fn read_wav(path: &Path) -> Vec<f32> {
    let r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, RATE as u32, 16)
    );
    r.into_samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

pub fn prompt(name: &str) -> Vec<f32> {
    read_wav(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("prompts/builtin/pt-BR")
            .join(format!("{name}.wav")),
    )
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// The best normalized cross-correlation of `template` against `signal`
/// starting anywhere in `starts`, and that start: a scan of 4×-decimated
/// copies (tests build unoptimized), refined at full rate around its best.
pub fn best_match(signal: &[f32], template: &[f32], starts: Range<usize>) -> (f32, usize) {
    let decimate = |x: &[f32]| -> Vec<f32> { x.chunks(4).map(|c| c.iter().sum()).collect() };
    let coarse = ncc_scan(
        &decimate(signal),
        &decimate(template),
        starts.start / 4..starts.end.div_ceil(4),
    );
    let near = (coarse.1 * 4).saturating_sub(8).max(starts.start);
    ncc_scan(signal, template, near..(coarse.1 * 4 + 8).min(starts.end))
}

/// Normalized cross-correlation at every start in `starts`: the best.
pub fn ncc_scan(signal: &[f32], template: &[f32], starts: Range<usize>) -> (f32, usize) {
    let n = template.len();
    let t_energy: f64 = template.iter().map(|&v| (v * v) as f64).sum();
    // Prefix sums of the signal's energy, for each window's norm.
    let mut cum = vec![0.0f64; signal.len() + 1];
    for (i, &v) in signal.iter().enumerate() {
        cum[i + 1] = cum[i] + (v * v) as f64;
    }
    starts
        .take_while(|&s| s + n <= signal.len())
        .map(|s| {
            let dot: f32 = signal[s..s + n]
                .iter()
                .zip(template)
                .map(|(a, b)| a * b)
                .sum();
            let norm = (t_energy * (cum[s + n] - cum[s])).sqrt().max(1e-9);
            ((dot as f64 / norm) as f32, s)
        })
        .fold((0.0, 0), |best, c| if c.0 > best.0 { c } else { best })
}
