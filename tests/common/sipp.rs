//! SIPp helpers shared by the SIPp end-to-end tests: free ports, SIPp's
//! shipped DTMF pcaps, the bound on one run, and dumpcap capturing what
//! SIPp received (RTP payloads out of a pcap file).

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Where the tests' peers get their ports: 10000-19999, below the test
/// ura's RTP ranges (20000-32399) and the kernel's ephemeral ports (from
/// 32768), so that between the pick and the peer's bind no other test's
/// socket (a `:0` bind, an outgoing connection, an RTP pair) takes it.
const PEER_PORTS: (u16, u16) = (10_000, 10_000);

/// A port of `ip` free for both UDP and TCP right now (see [`PEER_PORTS`]).
pub fn free_port_on(ip: IpAddr) -> u16 {
    loop {
        let port = PEER_PORTS.0 + fastrand::u16(0..PEER_PORTS.1);
        if UdpSocket::bind((ip, port)).is_ok() && TcpListener::bind((ip, port)).is_ok() {
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
        let p = PEER_PORTS.0 + 2 * fastrand::u16(0..PEER_PORTS.1 / 2 - 2);
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

/// The directory holding SIPp's DTMF pcaps; panics (the test fails) when
/// they are not found.
pub fn pcap_dir() -> PathBuf {
    let from_env = std::env::var_os("URA_SIPP_PCAP_DIR").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(PCAP_DIRS.iter().map(PathBuf::from))
        .find(|d| d.join("dtmf_2833_1.pcap").is_file())
        .unwrap_or_else(|| {
            panic!(
                "SIPp's dtmf_2833_*.pcap not found in {PCAP_DIRS:?} (set URA_SIPP_PCAP_DIR): {}",
                super::missing_peer_hint("sip-tester")
            )
        })
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

/// dumpcap capturing, on the loopback, the UDP sent to one port (the file
/// stays in SIPp's directory, kept when a test fails).
pub struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts dumpcap and waits (up to 10 s) until it captures; `Err` with
    /// what dumpcap said when it cannot (no right to capture, say).
    pub fn start(dumpcap: &Path, ip: IpAddr, port: u16, file: PathBuf) -> Result<Capture, String> {
        let mut child = Command::new(dumpcap)
            .args(["-q", "-P", "-i", "lo", "-f"])
            .arg(format!("udp and dst host {ip} and dst port {port}"))
            .args(["-a", "duration:60", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dumpcap");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut said = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("Capturing on") => break,
                Ok(line) => said.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("dumpcap did not start capturing: {said:?}"));
                }
            }
        }
        // "Capturing on" comes just before the capture loop: a moment more.
        std::thread::sleep(Duration::from_millis(200));
        Ok(Capture { child, file })
    }

    /// Stops dumpcap (SIGTERM: it closes the file) and returns the RTP
    /// payloads of type `pt`, in sequence order.
    pub fn finish(&mut self, pt: u8) -> Vec<Vec<u8>> {
        // Let the last packets in flight land.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = std::fs::read(&self.file).expect("read the capture");
        rtp_payloads(&udp_payloads(&data), pt)
    }
}

/// [`Capture::start`], or a failure saying why dumpcap cannot capture.
pub fn capture(dumpcap: &Path, ip: IpAddr, port: u16, file: PathBuf) -> Capture {
    Capture::start(dumpcap, ip, port, file).unwrap_or_else(|msg| {
        panic!(
            "{msg}: dumpcap needs the right to capture on `lo` (root, or \
             `sudo dpkg-reconfigure wireshark-common` and the `wireshark` group)"
        )
    })
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The UDP payloads of the IPv4 and IPv6 packets in a libpcap file, in
/// file order.
pub fn udp_payloads(data: &[u8]) -> Vec<&[u8]> {
    assert!(data.len() >= 24, "capture too short: {} bytes", data.len());
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let swapped = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        _ => panic!("not a libpcap file (magic {magic:#x})"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = data[at..at + 4].try_into().unwrap();
        if swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let link_header = match u32_at(20) & 0xffff {
        0 | 108 => 4,   // BSD loopback
        1 => 14,        // Ethernet (Linux `lo`)
        101 | 228 => 0, // raw IP, raw IPv4
        113 => 16,      // Linux cooked (`any`)
        276 => 20,      // Linux cooked v2
        other => panic!("unexpected pcap link type {other}"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32_at(at + 8) as usize;
        let packet = &data[at + 16..(at + 16 + caplen).min(data.len())];
        at += 16 + caplen;
        let Some(ip) = packet.get(link_header..) else {
            continue;
        };
        let udp = match ip.first().map(|b| b >> 4) {
            Some(4) if ip.len() >= 20 && ip[9] == 17 => {
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
                &ip[usize::from(ip[0] & 0x0f) * 4..total]
            }
            // IPv6 with UDP right after the fixed header (no extensions).
            Some(6) if ip.len() >= 40 && ip[6] == 17 => {
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                &ip[40..(40 + len).min(ip.len())]
            }
            _ => continue,
        };
        if udp.len() >= 8 {
            out.push(&udp[8..]);
        }
    }
    out
}

/// The payloads of RTP packets of type `pt`, sorted by (unwrapped) sequence
/// number.
pub fn rtp_payloads(udp: &[&[u8]], pt: u8) -> Vec<Vec<u8>> {
    let mut seq: Option<i64> = None;
    let mut packets = Vec::new();
    for p in udp {
        if p.len() < 12 || p[0] >> 6 != 2 {
            continue;
        }
        let s = u16::from_be_bytes([p[2], p[3]]);
        let ext = match seq {
            None => i64::from(s),
            Some(prev) => prev + i64::from(s.wrapping_sub(prev as u16) as i16),
        };
        seq = Some(ext);
        if p[1] & 0x7f != pt {
            continue;
        }
        let mut start = 12 + 4 * usize::from(p[0] & 0x0f);
        if p[0] & 0x10 != 0 && p.len() >= start + 4 {
            start += 4 + 4 * usize::from(u16::from_be_bytes([p[start + 2], p[start + 3]]));
        }
        let mut end = p.len();
        if p[0] & 0x20 != 0 {
            end = end.saturating_sub(usize::from(p[p.len() - 1]));
        }
        if start <= end {
            packets.push((ext, p[start..end].to_vec()));
        }
    }
    packets.sort_by_key(|(s, _)| *s);
    packets.into_iter().map(|(_, p)| p).collect()
}
