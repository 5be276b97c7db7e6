//! A headless linphonec (Debian `linphone-cli`, liblinphone 5) for the
//! tests: a fresh home directory and configuration, driven on its stdin,
//! its "microphone" a WAV file played into the call and what it hears
//! recorded into another (linphonec's `soundcard use files` mode: both
//! paced by mediastreamer's own ticker). ALSA is pointed at its `null`
//! device behind the `file` plugin, so no sound card or server is touched
//! (as in `tests/mic.rs`). Killed on drop; everything stays on loopback
//! but what the system routes to the machine's own addresses.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::baresip::write_wav;

/// A running linphonec, killed on drop.
pub struct Linphone {
    child: Child,
    stdin: ChildStdin,
    /// Its home directory (configuration, log, recording).
    pub dir: PathBuf,
    lines: Receiver<String>,
    /// What it printed so far.
    pub seen: Vec<String>,
}

/// An even UDP port with the next one free on `ip` (linphone's RTP/RTCP).
fn rtp_port(ip: IpAddr) -> u16 {
    loop {
        let p = 50_000 + 2 * fastrand::u16(0..5_000);
        if UdpSocket::bind((ip, p)).is_ok() && UdpSocket::bind((ip, p + 1)).is_ok() {
            return p;
        }
    }
}

impl Linphone {
    /// Starts linphonec with `mic` (8 kHz samples) as what it says in the
    /// call (None: no microphone at all, and linphone sends next to no
    /// RTP); its SIP port is free on `sip_ip`.
    pub fn start(program: &Path, sip_ip: IpAddr, mic: Option<&[i16]>) -> Linphone {
        let dir = std::env::temp_dir().join(format!(
            "ura-linphone-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(dir.join(".local/share/linphone")).expect("linphone directory");
        if let Some(mic) = mic {
            write_wav(&dir.join("mic.wav"), mic);
        }
        std::fs::write(
            dir.join("asound.conf"),
            "</usr/share/alsa/alsa.conf>\npcm.!default {\n type file\n slave.pcm \"null\"\n \
             file \"/dev/null\"\n format \"raw\"\n}\n",
        )
        .unwrap();
        // PCMU only, RFC 4733 digits, no video, no NAT helpers.
        let rtp = rtp_port(sip_ip);
        std::fs::write(
            dir.join("linphonerc"),
            format!(
                "[sip]\nuse_rfc2833=1\nuse_info=0\nsip_tcp_port=-1\n\
                 [rtp]\naudio_rtp_port={rtp}\n\
                 [video]\ncapture=0\ndisplay=0\nautomatically_initiate=0\nautomatically_accept=0\n\
                 [audio_codec_0]\nmime=PCMU\nrate=8000\nchannels=1\nenabled=1\n\
                 [audio_codec_1]\nmime=PCMA\nrate=8000\nchannels=1\nenabled=0\n\
                 [audio_codec_2]\nmime=opus\nrate=48000\nchannels=2\nenabled=0\n\
                 [audio_codec_3]\nmime=speex\nrate=16000\nchannels=1\nenabled=0\n\
                 [audio_codec_4]\nmime=speex\nrate=8000\nchannels=1\nenabled=0\n\
                 [audio_codec_5]\nmime=G729\nrate=8000\nchannels=1\nenabled=0\n"
            ),
        )
        .unwrap();
        let sip_port = super::sipp::free_port_on(sip_ip);
        let mut child = Command::new(program)
            .arg("-c")
            .arg(dir.join("linphonerc"))
            .args(["-d", "6", "-l"])
            .arg(dir.join("linphone.log"))
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", dir.join(".local/share"))
            .env("XDG_CONFIG_HOME", dir.join(".config"))
            .env("ALSA_CONFIG_PATH", dir.join("asound.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn linphonec");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut phone = Linphone {
            child,
            stdin,
            dir,
            lines,
            seen: Vec::new(),
        };
        phone.command(&format!("ports sip {sip_port}"));
        phone.command("soundcard use files");
        let mic_file = phone.dir.join("mic.wav");
        let heard = phone.dir.join("heard.wav");
        if mic.is_some() {
            phone.command(&format!("play {}", mic_file.display()));
        }
        phone.command(&format!("record {}", heard.display()));
        phone
    }

    /// Types one line at the `linphonec>` prompt.
    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("linphonec stdin");
        self.stdin.flush().expect("linphonec stdin");
    }

    /// Waits up to `timeout` for a printed line holding every one of
    /// `words`.
    pub fn wait_for(&mut self, words: &[&str], timeout: Duration) -> Option<String> {
        let found = |l: &String| words.iter().all(|w| l.contains(w));
        if let Some(l) = self.seen.iter().find(|l| found(l)) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if found(&line) {
                return Some(line);
            }
        }
    }

    /// Quits (the recording is closed) and waits up to 5 s, then kills.
    pub fn quit(&mut self) {
        self.command("quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// What linphone heard in the call, decoded (8 kHz, in [-1, 1]).
    /// linphone's WAV header may promise a few bytes more than it wrote
    /// when the call ends: the samples are read up to the end of the file.
    pub fn heard(&self) -> Option<Vec<f32>> {
        let r = hound::WavReader::open(self.dir.join("heard.wav")).ok()?;
        let spec = r.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, super::baresip::RATE as u32, 16),
            "linphone's recording format"
        );
        let pcm: Vec<f32> = r
            .into_samples::<i16>()
            .map_while(Result::ok)
            .map(|s| s as f32 / 32768.0)
            .collect();
        (!pcm.is_empty()).then_some(pcm)
    }

    /// The SDP linphone offered (from its log).
    pub fn offered_connection(&self) -> Option<String> {
        let log = std::fs::read_to_string(self.dir.join("linphone.log")).ok()?;
        log.lines()
            .find(|l| l.starts_with("c=IN "))
            .map(|l| l.trim().to_string())
    }

    /// Everything worth reading when a test fails.
    pub fn report(&self, ura: &super::Ura) -> String {
        let log = std::fs::read_to_string(self.dir.join("linphone.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        format!(
            "linphone directory {}\n--- linphonec output\n{}\n--- linphone log (last 150 lines)\n{}\n--- ura logs\n{}",
            self.dir.display(),
            self.seen.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            ura.logs().join("\n"),
        )
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
