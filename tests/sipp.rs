//! SIPp, a third-party SIP tester, against a real `ura serve` on loopback.
//!
//! Each test starts its own ura, runs one scenario of `tests/sipp/` for one
//! call and expects SIPp to exit with status 0: one successful call, no
//! failed call. SIPp is bounded by `-timeout … -timeout_error` and
//! `-recv_timeout`, and killed from here after `KILL_AFTER` whatever happens.
//! SIPp's traces land in a temporary directory printed on failure. The
//! echo test also captures with dumpcap what ura sent to SIPp's media port
//! and finds the prompts in it, byte for byte.
//!
//! Without SIPp (or dumpcap) each test fails, saying what to install (the `no-peers`
//! nextest profile leaves them out, reported as skipped).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::caller::find_frames;
use common::sipp::{capture, free_port_on, loopback_of, media_port_on, pcap_dir, run, Run};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

/// One SIPp run and its final statistics.
struct Outcome {
    run: Run,
    /// The last line of SIPp's `-trace_stat` file, by column.
    stats: HashMap<String, String>,
    /// The PCMU payloads SIPp received, in sequence order, when captured.
    heard: Vec<Vec<u8>>,
}

impl Outcome {
    fn stat(&self, name: &str) -> Option<u64> {
        self.stats.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// Exit status 0, one successful call and no failed one.
    fn assert_one_good_call(&self, ura: &Ura) {
        let ok = self.run.code == Some(0)
            && self.stat("SuccessfulCall(C)") == Some(1)
            && self.stat("FailedCall(C)") == Some(0);
        assert!(
            ok,
            "SIPp: successful {:?}, failed {:?}\n{}",
            self.stat("SuccessfulCall(C)"),
            self.stat("FailedCall(C)"),
            self.run.report(ura)
        );
    }
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Reads SIPp's `-trace_stat` file: the last line, by column name.
fn read_stats(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return HashMap::new();
    };
    let Some(last) = lines.next_back() else {
        return HashMap::new();
    };
    header
        .split(';')
        .zip(last.split(';'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Runs `scenario` for one call against `ura` over `transport` (`u1`, `t1`),
/// from a fresh directory holding copies of `pcaps`; with `dumpcap`, what
/// ura sends to SIPp's media port is captured.
fn run_sipp(
    sipp: &Path,
    ura: &Ura,
    name: &str,
    transport: &str,
    pcaps: &[(&Path, &str)],
    dumpcap: Option<&Path>,
) -> Outcome {
    let dir = std::env::temp_dir().join(format!(
        "ura-sipp-{}-{}-{}-{}",
        std::process::id(),
        name.trim_end_matches(".xml"),
        transport,
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).expect("SIPp directory");
    for (from, file) in pcaps {
        std::fs::copy(from.join(file), dir.join(file)).expect("copy pcap");
    }
    // SIPp on the loopback of ura's family (`-i ::1` for ura on `[::1]`).
    let ip = loopback_of(ura.sip);
    let remote = SocketAddr::new(ip, ura.sip.port()).to_string();
    let local_port = free_port_on(ip).to_string();
    let control_port = free_port_on(ip).to_string();
    let mp = media_port_on(ip);
    let mut capture = dumpcap.map(|d| capture(d, ip, mp, dir.join("heard.pcap")));
    let mp = mp.to_string();
    let ip = ip.to_string();
    let mut cmd = Command::new(sipp);
    cmd.arg(&remote)
        .arg("-sf")
        .arg(scenario(name))
        .args(["-t", transport, "-i", &ip, "-p", &local_port])
        .args(["-mi", &ip, "-mp", &mp, "-cp", &control_port])
        .args(["-m", "1", "-l", "1", "-r", "1", "-nostdin"])
        .args(["-timeout", "40s", "-timeout_error", "-recv_timeout", "20s"])
        .args(["-trace_msg", "-message_file", "messages.log"])
        .args(["-trace_err", "-error_file", "errors.log"])
        .args(["-trace_stat", "-stf", "stats.csv", "-fd", "1"])
        .args(["-trace_screen", "-screen_file", "screen.log"]);
    let stats_file = dir.join("stats.csv");
    let run = run(cmd, dir);
    let heard = capture.as_mut().map(|c| c.finish(0)).unwrap_or_default();
    Outcome {
        run,
        stats: read_stats(&stats_file),
        heard,
    }
}

/// The number after `name: ` in a log line (`packets_sent: 259`).
fn counter(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!("{name}: "))? + name.len() + 2;
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn sipp_echo_with_rfc4733_digits_ends_with_ura_bye() {
    echo_with_rfc4733_digits(&[]);
}

/// The same call with SIPp on `::1` (`-i ::1`, `c=IN IP6 ::1`) and ura on
/// `[::1]`: signalling, the answer's address and RTP (both ways) in IPv6.
#[test]
fn sipp_echo_over_ipv6_with_rfc4733_digits_ends_with_ura_bye() {
    echo_with_rfc4733_digits(&["--sip", "[::1]:0"]);
}

/// SIPp calls 9000 and presses 1 and # (RFC 4733); ura says them and hangs
/// up. `ura_args` say where ura listens.
fn echo_with_rfc4733_digits(ura_args: &[&str]) {
    let sipp = common::peer("sipp", "sip-tester");
    let dumpcap = common::peer("dumpcap", "tshark");
    let pcaps = pcap_dir();
    let ura = Ura::start(ura_args);
    let out = run_sipp(
        &sipp,
        &ura,
        "echo_dtmf.xml",
        "u1",
        &[
            (&pcaps, "dtmf_2833_1.pcap"),
            (&pcaps, "dtmf_2833_pound.pcap"),
        ],
        Some(&dumpcap),
    );
    out.assert_one_good_call(&ura);
    // ura heard both digits (SIPp sent them one way only: RFC 4733 over RTP).
    for digit in ["digit=1", "digit=#"] {
        let heard = ura.wait_log(&["DTMF", digit]);
        assert!(
            heard.is_some(),
            "ura logged no DTMF {digit}\n{}",
            out.run.report(&ura)
        );
    }
    // What SIPp received (captured on the loopback, not ura's counters):
    // the welcome's first second (the 1 cut it short), "um", then the whole
    // goodbye, each byte for byte and in order.
    let prompts = BuiltinPrompts::load().unwrap();
    let welcome = prompts.get("echo-welcome").unwrap().bytes(Codec::Pcmu);
    let mut at = 0;
    for (name, bytes) in [
        ("the welcome's first 0.8 s", &welcome[..160 * 40]),
        (
            "digit-1",
            prompts.get("digit-1").unwrap().bytes(Codec::Pcmu),
        ),
        (
            "goodbye",
            prompts.get("goodbye").unwrap().bytes(Codec::Pcmu),
        ),
    ] {
        let found = find_frames(&out.heard, bytes, at).unwrap_or_else(|| {
            panic!(
                "SIPp did not hear {name} after frame {at} ({} frames)\n{}",
                out.heard.len(),
                out.run.report(&ura)
            )
        });
        at = found + bytes.len() / 160;
    }
    // ura heard SIPp's RFC 4733 packets (its own count, beside the above).
    let stats = ura.wait_log(&["call media statistics"]).unwrap_or_default();
    let received = counter(&stats, "packets_received").unwrap_or(0);
    let failed = counter(&stats, "send_failed").unwrap_or(u64::MAX);
    assert!(
        received >= 2 && failed == 0,
        "RTP received {received}, failed sends {failed}: {stats}\n{}",
        out.run.report(&ura)
    );
}

#[test]
fn sipp_cancel_while_ringing_gets_487() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&["--ring-ms", "3000"]);
    let out = run_sipp(&sipp, &ura, "cancel.xml", "u1", &[], None);
    out.assert_one_good_call(&ura);
}

#[test]
fn sipp_caller_hangs_up_over_udp() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&[]);
    let out = run_sipp(&sipp, &ura, "caller_bye.xml", "u1", &[], None);
    out.assert_one_good_call(&ura);
}

#[test]
fn sipp_caller_hangs_up_over_tcp() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&[]);
    let out = run_sipp(&sipp, &ura, "caller_bye.xml", "t1", &[], None);
    out.assert_one_good_call(&ura);
}

#[test]
fn sipp_caller_hangs_up_over_tcp_on_ipv6() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&["--sip", "[::1]:0"]);
    let out = run_sipp(&sipp, &ura, "caller_bye.xml", "t1", &[], None);
    out.assert_one_good_call(&ura);
}

#[test]
fn sipp_invite_without_sdp_gets_an_offer_and_answers_in_the_ack() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&[]);
    let out = run_sipp(&sipp, &ura, "no_sdp.xml", "u1", &[], None);
    out.assert_one_good_call(&ura);
    let up = ura.wait_log(&["call is up"]);
    assert!(
        up.is_some(),
        "ura took no answer from the ACK\n{}",
        out.run.report(&ura)
    );
}

#[test]
fn sipp_unknown_number_gets_404() {
    let sipp = common::peer("sipp", "sip-tester");
    let ura = Ura::start(&[]);
    let out = run_sipp(&sipp, &ura, "unknown_number.xml", "u1", &[], None);
    out.assert_one_good_call(&ura);
}
