//! The built-in engine: `espeak-ng` run as a subprocess.
//!
//! espeak-ng is GPL, so it is never linked: ura runs the program and reads the
//! WAV it writes to stdout. The text goes through stdin (`--stdin`), so no text
//! can be taken for an option, and no shell is involved.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::audio::Audio;
use crate::error::{excerpt, TtsError};
use crate::rate::Rate;
use crate::synth::{check_text, Synthesizer};
use crate::voice::{Language, Voice};
use crate::wav::parse_wav;

/// Engine id, used in cache keys and errors.
pub const ESPEAK_NAME: &str = "espeak-ng";

/// What to do when espeak-ng is missing.
pub const ESPEAK_MISSING_HINT: &str =
    "install the Debian package `espeak-ng` (apt-get install espeak-ng) or configure the HTTP TTS engine";

/// Most WAV bytes read from espeak-ng (far above 5,000 characters at the slowest rate).
const MAX_OUTPUT_BYTES: u64 = 64 << 20;
/// Most stderr bytes kept for error messages.
const MAX_STDERR_BYTES: u64 = 4 << 10;
/// How often the child is polled while it runs.
const POLL: Duration = Duration::from_millis(5);

/// Synthesizes with the `espeak-ng` program.
#[derive(Debug, Clone)]
pub struct EspeakNg {
    program: PathBuf,
    timeout: Duration,
}

impl Default for EspeakNg {
    fn default() -> Self {
        Self::new()
    }
}

impl EspeakNg {
    /// Longest a synthesis may run before espeak-ng is killed.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

    /// Runs `espeak-ng` found on `PATH`.
    pub fn new() -> Self {
        Self::with_program(ESPEAK_NAME)
    }

    /// Runs the program at `program` instead (a full path, or a name on `PATH`).
    pub fn with_program(program: impl AsRef<Path>) -> Self {
        EspeakNg {
            program: program.as_ref().to_path_buf(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Sets the time limit of one synthesis.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The espeak-ng voice argument for `voice`: pt-BR → `pt-br`, pt-PT → `pt`,
    /// en-US → `en-us`, es → `es`; engine voice names pass through.
    pub fn voice_arg(voice: &Voice) -> &str {
        match voice {
            Voice::Language(Language::PtBr) => "pt-br",
            Voice::Language(Language::PtPt) => "pt",
            Voice::Language(Language::EnUs) => "en-us",
            Voice::Language(Language::Es) => "es",
            Voice::Named(name) => name,
        }
    }

    /// Whether the program can be started (runs `--version`, bounded by the timeout).
    pub fn is_installed(&self) -> bool {
        let child = Command::new(&self.program)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(mut child) => match wait_until(&mut child, Instant::now() + self.timeout) {
                Ok(Some(status)) => status.success(),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    false
                }
            },
            Err(_) => false,
        }
    }

    fn failed(&self, detail: impl Into<String>) -> TtsError {
        TtsError::EngineFailed {
            engine: ESPEAK_NAME.to_string(),
            detail: detail.into(),
        }
    }
}

impl Synthesizer for EspeakNg {
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        check_text(text)?;
        let voice_arg = EspeakNg::voice_arg(voice);
        if voice_arg.starts_with('-') {
            // Parsing already forbids this; checked again because it reaches argv.
            return Err(TtsError::InvalidVoice(voice_arg.to_string()));
        }
        // Control characters (NUL included) would end or garble espeak's input.
        let input: String = text
            .chars()
            .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
            .collect();
        let deadline = Instant::now() + self.timeout;
        let mut child = Command::new(&self.program)
            .args(["-b", "1", "-v", voice_arg, "-s"])
            .arg(rate.wpm().to_string())
            .args(["--stdin", "--stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TtsError::EngineMissing {
                    engine: ESPEAK_NAME.to_string(),
                    hint: format!(
                        "{} not found; {ESPEAK_MISSING_HINT}",
                        self.program.display()
                    ),
                },
                _ => self.failed(format!("cannot start {}: {e}", self.program.display())),
            })?;

        // Feed stdin and drain stdout/stderr on their own threads so that no pipe
        // can fill up and stall the child while we wait for it.
        if let Some(mut stdin) = child.stdin.take() {
            thread::spawn(move || {
                // A child that exits early closes the pipe: not our error to report.
                let _ = stdin.write_all(input.as_bytes());
            });
        }
        let stdout = child.stdout.take().map(|s| drain(s, MAX_OUTPUT_BYTES + 1));
        let stderr = child.stderr.take().map(|s| drain(s, MAX_STDERR_BYTES));

        let status = match wait_until(&mut child, deadline) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TtsError::Timeout {
                    engine: ESPEAK_NAME.to_string(),
                    after: self.timeout,
                });
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.failed(format!("waiting for the process: {e}")));
            }
        };
        // Output is complete once the pipes close; a grandchild holding them open
        // must not hold us past the deadline either.
        let grace = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(200));
        let stderr = stderr
            .and_then(|rx| rx.recv_timeout(grace).ok())
            .unwrap_or_default();
        if !status.success() {
            return Err(self.failed(format!("{status}: {}", excerpt(&stderr, 300))));
        }
        let wav = stdout
            .and_then(|rx| rx.recv_timeout(grace).ok())
            .ok_or_else(|| self.failed("no output after the process exited"))?;
        if wav.len() as u64 > MAX_OUTPUT_BYTES {
            return Err(self.failed(format!("more than {MAX_OUTPUT_BYTES} bytes of audio")));
        }
        let audio = parse_wav(&wav)?;
        if audio.samples.is_empty() {
            return Err(self.failed(format!("no audio produced: {}", excerpt(&stderr, 300))));
        }
        Ok(audio)
    }

    fn name(&self) -> &str {
        ESPEAK_NAME
    }
}

/// Reads up to `limit` bytes on a thread; the result arrives on the channel.
fn drain(mut from: impl Read + Send + 'static, limit: u64) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.by_ref().take(limit).read_to_end(&mut buf);
        // Keep draining past the limit so the child never blocks on a full pipe.
        let _ = std::io::copy(&mut from, &mut std::io::sink());
        let _ = tx.send(buf);
    });
    rx
}

/// Waits for the child until `deadline`; `Ok(None)` when it is still running.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(POLL.min(deadline - now));
    }
}
