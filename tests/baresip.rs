//! baresip, a third-party softphone, calls ura's digit echo (`9000`) on
//! loopback, headless, and we check what it actually heard.
//!
//! baresip runs with a configuration written here: no sound card (its
//! microphone is a silent WAV via `aufile`, its speaker the `aubridge` null
//! device), PCMU only, no NAT helpers, and the `sndfile` filter recording
//! the decoded received audio (`dump-*-dec.wav`). The test drives it over
//! `ctrl_tcp` (netstring JSON): `dial`, then `sndcode 1` after the welcome
//! and `sndcode #` (RFC 4733 events), then waits for ura's BYE.
//!
//! Checks: the recording has energy during the welcome and correlates
//! (normalized cross-correlation ≥ 0.5) with the welcome prompt, then with
//! `digit-1` and `goodbye`; ura logged both digits and `call ended`; baresip
//! saw the call closed by the remote (a BYE from ura in its SIP trace).
//!
//! baresip is bounded by `-t` and killed from here; everything stays on
//! 127.0.0.1. Skips (with a printed reason) without baresip, unless
//! `URA_REQUIRE_PEERS=1`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::Ura;
use serde_json::Value;

/// baresip quits by itself after this (`-t`), and is killed on drop anyway.
const BARESIP_SECONDS: u32 = 40;
/// Sample rate of the prompts and of PCMU.
const RATE: usize = 8000;

/// A headless baresip with its control connection, killed on drop.
struct Baresip {
    child: Child,
    dir: PathBuf,
    ctrl: TcpStream,
    events: Receiver<Value>,
    seen: Vec<Value>,
}

impl Baresip {
    /// Writes a configuration into a fresh temporary directory and starts
    /// baresip on it.
    fn start(program: &Path) -> Baresip {
        let dir = std::env::temp_dir().join(format!(
            "ura-baresip-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(dir.join("rec")).expect("baresip directory");
        // Microphone: 20 s of silence, longer than the call.
        write_wav(&dir.join("silence.wav"), &vec![0; 20 * RATE]);
        let ctrl_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free TCP port")
            .port();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:0\n\
             net_interface 127.0.0.1\n\
             call_max_calls 1\n\
             audio_source aufile,{dir}/silence.wav\n\
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
        std::fs::write(
            dir.join("accounts"),
            "<sip:baresip@127.0.0.1>;regint=0;audio_codecs=PCMU\n",
        )
        .unwrap();
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
    fn command(&mut self, command: &str, params: &str) {
        let json = serde_json::json!({ "command": command, "params": params, "token": command })
            .to_string();
        let frame = format!("{}:{},", json.len(), json);
        self.ctrl
            .write_all(frame.as_bytes())
            .expect("ctrl_tcp write");
    }

    /// Waits up to `timeout` for an event of `kind` (`CALL_ESTABLISHED`, …).
    fn event(&mut self, kind: &str, timeout: Duration) -> Option<Value> {
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
    fn quit(&mut self) {
        self.command("quit", "");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The decoded audio baresip received (`sndfile`'s `*-dec.wav`).
    fn recording(&self) -> Option<Vec<f32>> {
        let path = std::fs::read_dir(self.dir.join("rec"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))?;
        Some(read_wav(&path))
    }

    fn log(&self) -> String {
        log_of(&self.dir)
    }

    /// Everything worth reading when the test fails.
    fn report(&self, ura: &Ura) -> String {
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

fn log_of(dir: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join("baresip.log")).unwrap_or_default())
        .into_owned()
}

fn write_wav(path: &Path, samples: &[i16]) {
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
fn read_wav(path: &Path) -> Vec<f32> {
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

fn prompt(name: &str) -> Vec<f32> {
    read_wav(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("prompts/builtin/pt-BR")
            .join(format!("{name}.wav")),
    )
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// The best normalized cross-correlation of `template` against `signal`
/// starting anywhere in `starts`, and that start: a scan of 4×-decimated
/// copies (tests build unoptimized), refined at full rate around its best.
fn best_match(signal: &[f32], template: &[f32], starts: Range<usize>) -> (f32, usize) {
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
fn ncc_scan(signal: &[f32], template: &[f32], starts: Range<usize>) -> (f32, usize) {
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

/// Waits up to 3 s for a ura log line holding every one of `words`.
fn wait_for_log(ura: &Ura, words: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if ura
            .logs()
            .iter()
            .any(|l| words.iter().all(|w| l.contains(w)))
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn baresip_hears_welcome_and_digits_and_gets_bye() {
    let Some(program) = common::peer("baresip", "baresip") else {
        return;
    };
    let started = Instant::now();
    let ura = Ura::start(&[]);
    let mut phone = Baresip::start(&program);

    phone.command("dial", &format!("sip:9000@127.0.0.1:{}", ura.sip.port()));
    let up = phone.event("CALL_ESTABLISHED", Duration::from_secs(5));
    assert!(up.is_some(), "call not established\n{}", phone.report(&ura));
    std::thread::sleep(Duration::from_millis(7_500)); // the welcome (6.75 s)
    phone.command("sndcode", "1");
    std::thread::sleep(Duration::from_millis(1_200));
    phone.command("sndcode", "#");
    let closed = phone.event("CALL_CLOSED", Duration::from_secs(10));
    phone.quit();
    eprintln!("baresip call took {:.1} s", started.elapsed().as_secs_f32());

    // baresip saw the call closed by ura: a BYE in its SIP trace.
    let closed = closed.unwrap_or_else(|| panic!("no CALL_CLOSED\n{}", phone.report(&ura)));
    let log = phone.log();
    let from_ura = format!("UDP {} -> ", ura.sip);
    let lines: Vec<&str> = log.lines().collect();
    let got_bye = lines
        .windows(2)
        .any(|w| w[0].starts_with(&from_ura) && w[1].starts_with("BYE "));
    assert!(
        got_bye
            && closed["param"]
                .as_str()
                .unwrap_or("")
                .contains("reset by peer"),
        "no BYE from ura (CALL_CLOSED {closed})\n{}",
        phone.report(&ura)
    );

    // ura heard both digits and ended the call.
    for words in [
        &["DTMF", "digit=1"][..],
        &["DTMF", "digit=#"],
        &["call ended"],
    ] {
        assert!(
            wait_for_log(&ura, words),
            "ura logged no {words:?}\n{}",
            phone.report(&ura)
        );
    }

    // What baresip heard: the welcome, then "um", then the goodbye.
    let heard = phone
        .recording()
        .unwrap_or_else(|| panic!("no sndfile recording\n{}", phone.report(&ura)));
    let welcome = prompt("echo-welcome");
    let (w_ncc, w_at) = best_match(&heard, &welcome[..3 * RATE], 0..2 * RATE);
    let w_end = w_at + welcome.len();
    let heard_rms = rms(&heard[w_at..w_end.min(heard.len())]);
    let (d_ncc, d_at) = best_match(
        &heard,
        &prompt("digit-1"),
        w_end.saturating_sub(RATE / 2)..heard.len(),
    );
    // The goodbye's first 2 s: baresip drops what sits in its jitter buffer
    // when ura's BYE (sent right after the last packet) arrives.
    let digit_end = d_at + prompt("digit-1").len();
    let (g_ncc, g_at) = best_match(
        &heard,
        &prompt("goodbye")[..2 * RATE],
        digit_end..heard.len(),
    );
    let secs = |n: usize| n as f32 / RATE as f32;
    eprintln!(
        "recording {:.2} s; welcome ncc {w_ncc:.3} at {:.2} s (rms {heard_rms:.4} vs prompt {:.4}); \
         digit-1 ncc {d_ncc:.3} at {:.2} s; goodbye ncc {g_ncc:.3} at {:.2} s",
        secs(heard.len()),
        secs(w_at),
        rms(&welcome),
        secs(d_at),
        secs(g_at),
    );
    assert!(
        heard_rms > 0.3 * rms(&welcome),
        "welcome too quiet: rms {heard_rms}\n{}",
        phone.report(&ura)
    );
    assert!(
        w_ncc >= 0.5,
        "welcome not heard (ncc {w_ncc})\n{}",
        phone.report(&ura)
    );
    assert!(
        d_ncc >= 0.5,
        "digit-1 not heard (ncc {d_ncc})\n{}",
        phone.report(&ura)
    );
    assert!(
        g_ncc >= 0.5,
        "goodbye not heard (ncc {g_ncc})\n{}",
        phone.report(&ura)
    );
    let _ = std::fs::remove_dir_all(&phone.dir);
}
