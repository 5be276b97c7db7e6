//! SIPp helpers shared by the SIPp end-to-end tests: free ports, SIPp's
//! shipped DTMF pcaps, the bound on one run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// The Rust-side bound on one SIPp run.
pub const KILL_AFTER: Duration = Duration::from_secs(60);

/// Where distributions put SIPp's RFC 4733 pcaps (`dtmf_2833_*.pcap`).
pub const PCAP_DIRS: &[&str] = &[
    "/usr/share/sip-tester",
    "/usr/share/sipp/pcap",
    "/usr/share/sipp",
    "/usr/local/share/sipp/pcap",
    "/usr/share/doc/sip-tester/pcap",
];

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    free_port_on(Ipv4Addr::LOCALHOST.into())
}

/// A port of `ip` free for both UDP and TCP right now.
pub fn free_port_on(ip: IpAddr) -> u16 {
    loop {
        let udp = UdpSocket::bind((ip, 0)).expect("bind UDP");
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// An even port with `p` and `p + 2` free (SIPp binds audio and video media).
pub fn media_port() -> u16 {
    media_port_on(Ipv4Addr::LOCALHOST.into())
}

/// [`media_port`] on `ip`.
pub fn media_port_on(ip: IpAddr) -> u16 {
    loop {
        let p = 40_000 + 2 * fastrand::u16(0..9_000);
        let a = UdpSocket::bind((ip, p));
        let b = UdpSocket::bind((ip, p + 2));
        if a.is_ok() && b.is_ok() {
            return p;
        }
    }
}

/// The loopback address of `addr`'s family: where SIPp runs (`-i`, `-mi`)
/// to call a ura listening on `addr`.
pub fn loopback_of(addr: SocketAddr) -> IpAddr {
    match addr.is_ipv6() {
        true => Ipv6Addr::LOCALHOST.into(),
        false => Ipv4Addr::LOCALHOST.into(),
    }
}

/// The directory holding SIPp's DTMF pcaps; `None` (with a printed reason)
/// when missing and peers are optional.
pub fn pcap_dir() -> Option<PathBuf> {
    let from_env = std::env::var_os("URA_SIPP_PCAP_DIR").map(PathBuf::from);
    let found = from_env
        .into_iter()
        .chain(PCAP_DIRS.iter().map(PathBuf::from))
        .find(|d| d.join("dtmf_2833_1.pcap").is_file());
    if found.is_none() {
        let msg = "SIPp's dtmf_2833_*.pcap not found (set URA_SIPP_PCAP_DIR)";
        if std::env::var("URA_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{msg} (URA_REQUIRE_PEERS=1)");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// How one SIPp run ended. Its directory (traces, statistics, captures) is
/// removed when the run is dropped, unless the test is failing.
pub struct Run {
    /// SIPp's exit status (`None`: killed after [`KILL_AFTER`]).
    pub code: Option<i32>,
    /// SIPp's working directory.
    pub dir: PathBuf,
    /// SIPp's stdout and stderr.
    pub output: String,
}

impl Drop for Run {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Run {
    /// Everything worth reading when a run fails: SIPp's traces, its output,
    /// and ura's logs.
    pub fn report(&self, ura: &super::Ura) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!(
            "SIPp exit status {:?} (traces in {})\n--- SIPp errors\n{}\n--- SIPp messages\n{}\n--- SIPp screen\n{}\n--- SIPp output\n{}\n--- ura logs\n{}",
            self.code,
            self.dir.display(),
            read("errors.log"),
            read("messages.log"),
            read("screen.log"),
            self.output,
            ura.logs().join("\n"),
        )
    }
}

/// Runs a prepared SIPp command in `dir`, killing it after [`KILL_AFTER`].
pub fn run(mut cmd: std::process::Command, dir: PathBuf) -> Run {
    use std::process::Stdio;
    let mut child = cmd
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sipp");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = std::time::Instant::now() + KILL_AFTER;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let output = format!(
        "{}\n{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    Run { code, dir, output }
}
