//! Shared by the end-to-end tests: start and stop a real `ura serve`, and
//! find the real peers (SIPp, baresip) or fail saying how to install them.
#![allow(dead_code)]

pub mod agent;
pub mod audio;
pub mod baresip;
pub mod caller;
pub mod chat;
pub mod linphone;
pub mod receiver;
pub mod sipp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `ura serve` child process, killed on drop.
pub struct Ura {
    child: Child,
    /// Its SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// Its HTTP address.
    pub http: SocketAddr,
    /// Its RTP port range.
    pub rtp_ports: (u16, u16),
    /// Its data directory.
    pub data_dir: std::path::PathBuf,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Ura {
    /// Starts `ura serve` on 127.0.0.1 with free ports and `extra` flags.
    pub fn start(extra: &[&str]) -> Ura {
        let data = std::env::temp_dir().join(format!(
            "ura-test-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        Ura::start_in(data, extra)
    }

    /// Starts `ura serve` with `data` as its data directory.
    pub fn start_in(data: std::path::PathBuf, extra: &[&str]) -> Ura {
        Ura::start_limited(data, None, extra)
    }

    /// Starts `ura serve` with at most `nofile` open files (`ulimit -n`).
    pub fn start_with_nofile(nofile: u32, extra: &[&str]) -> Ura {
        let data = std::env::temp_dir().join(format!(
            "ura-test-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        Ura::start_limited(data, Some(nofile), extra)
    }

    fn start_limited(data: std::path::PathBuf, nofile: Option<u32>, extra: &[&str]) -> Ura {
        // Below the kernel's ephemeral ports (from 32768), above the peers'
        // (sipp::free_port: 10000-19999).
        let base = 20_000 + 2 * fastrand::u16(0..6_000);
        let rtp = format!("{}-{}", base, base + 399);
        let mut cmd = match nofile {
            // The shell sets the limit, then becomes ura (same pid).
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_ura"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_ura")),
        };
        cmd.args(["serve", "--http", "127.0.0.1:0", "--rtp-ports", &rtp]);
        if !extra.contains(&"--sip") {
            cmd.args(["--sip", "127.0.0.1:0"]);
        }
        cmd.arg("--data-dir")
            .arg(&data)
            .args(extra)
            .env("RUST_LOG", "info,ura_sip=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // If the test process dies (a panic, a timeout), ura goes with it.
        // SAFETY: prctl is async-signal-safe and only changes this child.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn ura");
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l2 = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ura did not start; logs: {:?}", logs.lock().unwrap());
        };
        let mut sip = None;
        let mut http = None;
        for word in line.split_whitespace() {
            if let Some(v) = word.strip_prefix("sip=") {
                sip = v.parse().ok();
            }
            if let Some(v) = word.strip_prefix("http=") {
                http = v.parse().ok();
            }
        }
        Ura {
            child,
            sip: sip.expect("sip address on the first line"),
            http: http.expect("http address on the first line"),
            rtp_ports: (base, base + 399),
            data_dir: data,
            logs,
        }
    }

    /// ura on the demo configuration with services holding 1 s (instead of
    /// 10) before "no agents", plus `extra` configuration appended.
    pub fn start_demo_with_short_hold(extra: &[&str]) -> Ura {
        Ura::start_with_config(
            &include_str!("../../src/demo.toml").replace("hold_seconds = 10", "hold_seconds = 1"),
            extra,
        )
    }

    /// ura reading `config` (TOML text) from a file of its own, with
    /// `data` as its data directory (to start it again on the same data).
    pub fn start_with_config_in(config: &str, data: std::path::PathBuf) -> Ura {
        let path = data.with_extension("toml");
        std::fs::write(&path, config).unwrap();
        Ura::start_in(data, &["--config", path.to_str().unwrap()])
    }

    /// ura reading `config` (TOML text) from a file of its own.
    pub fn start_with_config(config: &str, extra: &[&str]) -> Ura {
        let dir = std::env::temp_dir().join(format!(
            "ura-config-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ura.toml");
        std::fs::write(&path, config).unwrap();
        let mut args = vec!["--config", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        Ura::start(&args)
    }

    /// `ura calls list` on this ura's store, newest first.
    pub fn calls_list(&self) -> Vec<CallRow> {
        let out = Command::new(env!("CARGO_BIN_EXE_ura"))
            .args(["calls", "list", "--limit", "1000000", "--data-dir"])
            .arg(&self.data_dir)
            .output()
            .expect("ura calls list");
        assert!(
            out.status.success(),
            "ura calls list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut rows: Vec<CallRow> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
            // An indented line belongs to the row above it.
            match (line.trim().strip_prefix("media warning: "), rows.last_mut()) {
                (Some(w), Some(row)) => row.media_warning = Some(w.to_string()),
                _ => rows.push(CallRow::parse(line)),
            }
        }
        rows
    }

    /// The call records once `n` of them are written (the recorder writes
    /// after the call ends): polls `ura calls list` for up to 10 s.
    pub fn records(&self, n: usize) -> Vec<CallRow> {
        let mut rows = Vec::new();
        within_10s(|| {
            // Calls still up have a row too (`in-progress`, written at the
            // answer): only ended calls count here.
            rows = self.calls_list();
            rows.retain(|r| r.col(7) != "in-progress");
            (rows.len() >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("{} call records, waited for {n}: {rows:?}", rows.len()));
        rows
    }

    /// The super-admin API key ura made at its first start.
    pub fn api_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("api-key"))
            .expect("ura keeps its first API key in DATA_DIR/api-key")
            .trim()
            .to_string()
    }

    /// `GET /metrics`: the Prometheus text.
    pub fn metrics(&self) -> String {
        ureq::get(format!("http://{}/metrics", self.http))
            .call()
            .expect("GET /metrics")
            .body_mut()
            .read_to_string()
            .expect("the /metrics text")
    }

    /// Sends SIGHUP and waits (up to 10 s) for ura to log the outcome:
    /// the line saying "configuration reloaded" or "reload refused".
    pub fn reload(&self) -> String {
        let seen = self.logs().len();
        self.signal(libc::SIGHUP);
        within_10s(|| {
            self.logs()[seen..]
                .iter()
                .find(|l| l.contains("configuration reloaded") || l.contains("reload refused"))
                .cloned()
        })
        .unwrap_or_else(|| panic!("no reload outcome logged: {:?}", &self.logs()[seen..]))
    }

    /// Sends SIGTERM and waits (up to 10 s) for ura to exit; its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        within_10s(|| self.child.try_wait().ok().flatten())
            .expect("ura still running 10 s after SIGTERM")
    }

    /// Waits up to `within` for ura to exit; its status.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().ok().flatten() {
                return Some(s);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET /health`'s `active_calls`.
    pub fn active_calls(&self) -> Option<u64> {
        use std::io::{Read, Write};
        let mut s =
            std::net::TcpStream::connect_timeout(&self.http, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            s,
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let at = text.find("\"active_calls\":")? + "\"active_calls\":".len();
        text[at..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    /// Sends a signal to ura.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Everything ura logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits up to 3 s for a log line holding every one of `words`.
    pub fn wait_log(&self, words: &[&str]) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| words.iter().all(|w| l.contains(w)))
                .cloned();
            if found.is_some() || std::time::Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Ura {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of `ura calls list`.
#[derive(Debug, Clone)]
pub struct CallRow {
    /// The columns: id, started, number, answer, sched, digits, service,
    /// cause, side, queue, agent, wait, queue-outcome, caller.
    cols: Vec<String>,
    /// The media warning printed under the row, if any.
    pub media_warning: Option<String>,
}

impl CallRow {
    fn parse(line: &str) -> CallRow {
        CallRow {
            cols: line.split_whitespace().map(str::to_string).collect(),
            media_warning: None,
        }
    }

    fn col(&self, i: usize) -> &str {
        self.cols.get(i).map_or("", String::as_str)
    }

    /// The number dialled.
    pub fn number(&self) -> &str {
        self.col(2)
    }

    /// What the call came to, as `number answer sched digits service
    /// cause/side` (`-` for none), e.g. `1000 yes open 2 suporte
    /// ivr-queueunavailable/ura`.
    pub fn outcome(&self) -> String {
        format!(
            "{} {} {} {} {} {}/{}",
            self.col(2),
            self.col(3),
            self.col(4),
            self.col(5),
            self.col(6),
            self.col(7),
            self.col(8)
        )
    }

    /// Hang-up cause and side, as `cause/side`.
    pub fn ending(&self) -> String {
        format!("{}/{}", self.col(7), self.col(8))
    }

    /// The agent queue part, as `queue agent queue-outcome` (`-` for
    /// none), e.g. `vendas 2001 answered`.
    pub fn queue(&self) -> String {
        format!("{} {} {}", self.col(9), self.col(10), self.col(12))
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most 10 s.
fn within_10s<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one line that installs every peer the tests use (Debian 12), as
/// README.md gives it and `.ci/run` runs it.
pub const INSTALL_PEERS: &str = "sudo tests/install-peers.sh";

/// What a test needing a missing peer says after what is missing: how to
/// install it, and how to leave such tests out on purpose.
pub fn missing_peer_hint(package: &str) -> String {
    format!(
        "install the Debian package `{package}` (every peer: `{INSTALL_PEERS}`), or leave \
         out the tests that need peers: `cargo nextest run --workspace --profile no-peers`"
    )
}

/// Panics (the test fails) when this machine has no IPv6 loopback (`::1`):
/// the IPv6 tests are left out only on purpose, by the `no-peers` profile.
pub fn require_ipv6_loopback() {
    if let Err(e) = std::net::UdpSocket::bind("[::1]:0") {
        panic!(
            "no IPv6 loopback (::1) on this machine ({e}): enable IPv6 on `lo`, or leave out \
             the tests that need it: `cargo nextest run --workspace --profile no-peers`"
        );
    }
}

/// Finds a peer program on `PATH`; panics (the test fails) with the package
/// to install when it is missing. Tests that need peers are left out only on
/// purpose, by the `no-peers` nextest profile, which reports them as skipped.
pub fn peer(program: &str, package: &str) -> std::path::PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{program} not found on PATH: {}",
            missing_peer_hint(package)
        )
    })
}

/// What the browser tests need: `node`, Debian's Chromium and
/// playwright-core installed in `tests/browser`. Returns node's path and
/// that folder; panics with the install hint when one is missing.
pub fn browser_peers() -> (std::path::PathBuf, std::path::PathBuf) {
    const CHROMIUM: &str = "/usr/bin/chromium";
    let node = peer("node", "nodejs");
    let hint = format!(
        "install Chromium and playwright-core (`{INSTALL_PEERS}`: Debian's chromium, and `npm ci` \
         in tests/browser), or leave out the tests that need peers: \
         `cargo nextest run --workspace --profile no-peers`"
    );
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} not found: {hint}"
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in tests/browser: {hint}"
    );
    (node, dir)
}

/// Runs a browser script (`node SCRIPT ARGS…` in `tests/browser`), killed
/// and failed after `within`; its output.
pub fn run_node(
    node: &std::path::Path,
    dir: &std::path::Path,
    args: &[&std::ffi::OsStr],
    within: Duration,
) -> std::process::Output {
    let mut child = std::process::Command::new(node)
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("the browser test did not finish in {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}
