//! The IVR end to end with SIPp: a real `ura serve` on the demo configuration
//! (services holding 1 s), SIPp calling 1000 and 1001 from the scenarios of
//! `tests/sipp/ivr/` and pressing keys with RFC 4733 events from the pcaps
//! SIPp ships.
//!
//! What SIPp heard is ura's RTP to SIPp's media port, captured on the loopback
//! by `dumpcap`: the test parses the pcap, takes the RTP payloads in sequence
//! order and finds the prompts' exact PCMU frames in them, in order. The call
//! records say what happened.
//!
//! SIPp is bounded by `-timeout` and killed after `KILL_AFTER`; dumpcap stops
//! by itself after 60 s and is killed on drop. Skips (with a printed reason)
//! without SIPp, its pcaps or dumpcap, unless `URA_REQUIRE_PEERS=1`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::caller::find_frames;
use common::sipp::{free_port_on, loopback_of, media_port_on, pcap_dir, run, Run};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

/// The menu of the demo IVR, joined from built-in clips.
const MENU: [&str; 8] = [
    "menu-para",
    "label-vendas",
    "menu-tecle",
    "digit-1",
    "menu-para",
    "label-suporte",
    "menu-tecle",
    "digit-2",
];

/// ura on the demo configuration, services holding 1 s before "no agents".
fn ura() -> Ura {
    common::Ura::start_demo_with_short_hold(&[])
}

/// The same, listening on `[::1]` (SIPp calls with `-i ::1`).
fn ura_on_ipv6() -> Ura {
    common::Ura::start_demo_with_short_hold(&["--sip", "[::1]:0"])
}

/// dumpcap capturing, on the loopback, the UDP sent to one port (the file
/// stays in SIPp's directory, kept when a test fails).
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts dumpcap and waits (up to 10 s) until it captures; `Err` with
    /// what dumpcap said when it cannot (no right to capture, say).
    fn start(
        dumpcap: &Path,
        host: std::net::IpAddr,
        port: u16,
        file: PathBuf,
    ) -> Result<Capture, String> {
        let mut child = Command::new(dumpcap)
            .args(["-q", "-P", "-i", "lo", "-f"])
            .arg(format!("udp and dst host {host} and dst port {port}"))
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
    fn finish(&mut self, pt: u8) -> Vec<Vec<u8>> {
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

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The UDP payloads of the IPv4 and IPv6 packets in a libpcap file, in
/// file order.
fn udp_payloads(data: &[u8]) -> Vec<&[u8]> {
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
fn rtp_payloads(udp: &[&[u8]], pt: u8) -> Vec<Vec<u8>> {
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

/// One IVR call: SIPp runs `tests/sipp/ivr/<name>.xml` against `ura` from a
/// fresh directory holding a copy of `digit_pcap`, while dumpcap records
/// what ura sends to SIPp's media port. Returns the outcome and the PCMU
/// payloads SIPp received; `None` (the test skips) when dumpcap cannot
/// capture and peers are optional.
fn call(
    sipp: &Path,
    dumpcap: &Path,
    ura: &Ura,
    name: &str,
    digit_pcap: Option<(&Path, &str)>,
) -> Option<(Run, Vec<Vec<u8>>)> {
    let dir = std::env::temp_dir().join(format!(
        "ura-sipp-ivr-{}-{name}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).expect("SIPp directory");
    if let Some((from, file)) = digit_pcap {
        std::fs::copy(from.join(file), dir.join(file)).expect("copy pcap");
    }
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp/ivr")
        .join(format!("{name}.xml"));
    // SIPp on the loopback of ura's family (`-i ::1` for ura on `[::1]`).
    let ip = loopback_of(ura.sip);
    let mp = media_port_on(ip);
    let mut capture = match Capture::start(dumpcap, ip, mp, dir.join("heard.pcap")) {
        Ok(capture) => capture,
        Err(msg) if std::env::var("URA_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!("{msg} (URA_REQUIRE_PEERS=1)")
        }
        Err(msg) => {
            eprintln!("SKIPPED: {msg}");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    let mut cmd = Command::new(sipp);
    cmd.arg(std::net::SocketAddr::new(ip, ura.sip.port()).to_string())
        .arg("-sf")
        .arg(&scenario)
        .args(["-t", "u1", "-i", &ip.to_string(), "-mi", &ip.to_string()])
        .args(["-p", &free_port_on(ip).to_string(), "-mp", &mp.to_string()])
        .args(["-cp", &free_port_on(ip).to_string()])
        .args(["-m", "1", "-l", "1", "-r", "1", "-nostdin"])
        .args(["-timeout", "45s", "-timeout_error", "-recv_timeout", "30s"])
        .args(["-trace_msg", "-message_file", "messages.log"])
        .args(["-trace_err", "-error_file", "errors.log"]);
    let outcome = run(cmd, dir);
    let heard = capture.finish(0);
    assert_eq!(
        outcome.code,
        Some(0),
        "SIPp failed the call\n{}",
        outcome.report(ura)
    );
    Some((outcome, heard))
}

/// Finds the clips in order in what was heard, from frame `from`; returns
/// the frame after the last.
fn heard_in_order(heard: &[Vec<u8>], names: &[&str], from: usize, out: &Run, ura: &Ura) -> usize {
    let prompts = BuiltinPrompts::load().unwrap();
    let mut at = from;
    for name in names {
        let bytes = prompts
            .get(name)
            .unwrap_or_else(|| panic!("no prompt {name}"))
            .bytes(Codec::Pcmu);
        let found = find_frames(heard, bytes, at).unwrap_or_else(|| {
            panic!(
                "{name} not heard after frame {at} ({} frames heard)\n{}",
                heard.len(),
                out.report(ura)
            )
        });
        at = found + bytes.len() / 160;
        eprintln!("heard {name} at frames {found}..{at}");
    }
    at
}

/// The peers this file needs, or `None` when a test should skip.
fn peers() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let sipp = common::peer("sipp", "sip-tester")?;
    let dumpcap = common::peer("dumpcap", "tshark")?;
    let pcaps = pcap_dir()?;
    Some((sipp, dumpcap, pcaps))
}

#[test]
fn sipp_ivr_open_number_choice_2_goes_to_suporte_then_no_answer_and_bye() {
    ivr_choice_2(ura());
}

/// The IVR call above over IPv6: SIPp on `::1`, ura on `[::1]`; what SIPp
/// heard is captured from IPv6 packets.
#[test]
fn sipp_ivr_over_ipv6_choice_2_goes_to_suporte_then_no_answer_and_bye() {
    ivr_choice_2(ura_on_ipv6());
}

fn ivr_choice_2(ura: Ura) {
    let Some((sipp, dumpcap, pcaps)) = peers() else {
        return;
    };
    let Some((out, heard)) = call(
        &sipp,
        &dumpcap,
        &ura,
        "choice",
        Some((&pcaps, "dtmf_2833_2.pcap")),
    ) else {
        return;
    };
    let at = heard_in_order(&heard, &["ivr-welcome"], 0, &out, &ura);
    let at = heard_in_order(&heard, &MENU, at, &out, &ura);
    let prompts = BuiltinPrompts::load().unwrap();
    let music = prompts.get("hold-music").unwrap().bytes(Codec::Pcmu);
    let hold = find_frames(&heard, &music[..160 * 40], at)
        .unwrap_or_else(|| panic!("no hold music after the menu\n{}", out.report(&ura)));
    heard_in_order(&heard, &["ivr-no-answer"], hold + 40, &out, &ura);
    // SIPp's scenario received ura's BYE and answered it.
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1000 yes open 2 suporte ivr-queueunavailable/ura"
    );
}

#[test]
fn sipp_ivr_closed_number_says_closed_and_hangs_up() {
    let Some((sipp, dumpcap, _)) = peers() else {
        return;
    };
    let ura = ura();
    let Some((out, heard)) = call(&sipp, &dumpcap, &ura, "closed", None) else {
        return;
    };
    heard_in_order(&heard, &["ivr-welcome", "ivr-closed"], 0, &out, &ura);
    let prompts = BuiltinPrompts::load().unwrap();
    let menu = prompts.get("menu-para").unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&heard, menu, 0).is_none(),
        "menu heard on a closed number\n{}",
        out.report(&ura)
    );
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1001 yes closed - - ivr-outofhours/ura"
    );
}

#[test]
fn sipp_ivr_invalid_digit_plays_invalid_option_and_the_menu_again() {
    let Some((sipp, dumpcap, pcaps)) = peers() else {
        return;
    };
    let ura = ura();
    let Some((out, heard)) = call(
        &sipp,
        &dumpcap,
        &ura,
        "invalid",
        Some((&pcaps, "dtmf_2833_9.pcap")),
    ) else {
        return;
    };
    let at = heard_in_order(&heard, &["ivr-welcome"], 0, &out, &ura);
    let at = heard_in_order(&heard, &MENU, at, &out, &ura);
    let at = heard_in_order(&heard, &["ivr-invalid"], at, &out, &ura);
    heard_in_order(&heard, &MENU, at, &out, &ura);
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1000 yes open 9 - caller-bye/caller"
    );
}
