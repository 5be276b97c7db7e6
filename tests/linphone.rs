//! linphonec (Debian `linphone-cli`, liblinphone 5), a dual-stack
//! softphone, calls ura's digit echo (`9000`) headless, and we check what
//! it heard (issue #16: such calls were silent).
//!
//! linphone offers its default interface's address in SDP, which on a
//! machine with IPv6 is an IPv6 address (`c=IN IP6 fd00::2` here) whatever
//! the address it dials. Three calls:
//!
//! - over IPv4 to a ura on 127.0.0.1, whose RTP is IPv4 only: ura cannot
//!   use the SDP address, says so once, and sends to where linphone's RTP
//!   comes from;
//! - over IPv6 to a ura on `[::1]`;
//! - over IPv6 to a ura on the machine's own IPv6 address (skipped, with
//!   the reason printed, when the machine has none).
//!
//! Each time linphone's microphone is a quiet 300 Hz tone (so it sends
//! RTP), it presses 1 then # (RFC 4733), and what it heard is recorded to
//! a WAV file (`soundcard use files`). Checks: the recording has the
//! welcome prompt's energy and correlates with it second by second (each
//! NCC ≥ 0.5, all but two ≥ 0.9), then with `digit-1` (≥ 0.5); ura heard
//! both digits and hung up, and logged no failed send.
//!
//! linphonec is killed from here after the call; ura on drop. Without
//! linphonec (or without the IPv6 address a test needs) the test fails
//! saying why; the `no-peers` nextest profile leaves these tests out.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::baresip::{best_match, prompt, rms, RATE};
use common::linphone::Linphone;
use common::Ura;

/// 20 s of a quiet 300 Hz tone: linphone's microphone.
fn tone() -> Vec<i16> {
    (0..20 * RATE)
        .map(|i| {
            (1500.0 * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / RATE as f64).sin()) as i16
        })
        .collect()
}

/// The machine's own IPv6 address, the one the system would send from to
/// a global address (nothing is sent), if it has one.
fn own_ipv6() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("[::]:0").ok()?;
    s.connect("[2001:db8::1]:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// linphone at `ura` (listening on `sip`) dials 9000, presses 1 and #;
/// returns what it heard and the phone, for more checks.
fn echo_call(ura: &Ura, program: &std::path::Path) -> Linphone {
    echo_call_saying(ura, program, Some(&tone()))
}

/// [`echo_call`] with `mic` as what linphone says (None: no microphone).
fn echo_call_saying(ura: &Ura, program: &std::path::Path, mic: Option<&[i16]>) -> Linphone {
    let mut phone = Linphone::start(program, ura.sip.ip(), mic);
    let uri = match ura.sip.ip() {
        IpAddr::V6(ip) => format!("sip:9000@[{ip}]:{}", ura.sip.port()),
        IpAddr::V4(ip) => format!("sip:9000@{ip}:{}", ura.sip.port()),
    };
    phone.command(&format!("call {uri}"));
    let up = phone.wait_for(&["connected"], Duration::from_secs(10));
    assert!(up.is_some(), "call not connected\n{}", phone.report(ura));
    std::thread::sleep(Duration::from_millis(7_500)); // the welcome (6.75 s)
    phone.command("1");
    std::thread::sleep(Duration::from_millis(1_200));
    phone.command("#");
    // ura says goodbye and hangs up.
    let ended = phone.wait_for(&["ended"], Duration::from_secs(10));
    phone.quit();
    assert!(
        ended.is_some(),
        "ura did not hang up\n{}",
        phone.report(ura)
    );
    for words in [
        &["DTMF", "digit=1"][..],
        &["DTMF", "digit=#"],
        &["call ended"],
    ] {
        assert!(
            ura.wait_log(words).is_some(),
            "ura logged no {words:?}\n{}",
            phone.report(ura)
        );
    }
    let stats = ura.wait_log(&["call media statistics"]).unwrap_or_default();
    assert!(
        stats.contains("send_failed: 0") && !stats.contains("packets_sent: 0,"),
        "{stats}\n{}",
        phone.report(ura)
    );
    // What linphone heard: the welcome, then "um".
    let heard = phone
        .heard()
        .unwrap_or_else(|| panic!("no recording\n{}", phone.report(ura)));
    let welcome = prompt("echo-welcome");
    // Anchored on the welcome's second second: with latching, the first
    // moments of the call may not reach linphone.
    let (w_ncc, at) = best_match(&heard, &welcome[RATE..2 * RATE], 0..4 * RATE);
    let w_at = at.saturating_sub(RATE);
    let w_end = w_at + welcome.len();
    let heard_rms = rms(&heard[w_at..w_end.min(heard.len())]);
    // Second by second: a jitter buffer settling early in the call may
    // shift (or drop) a moment, which a 3 s template pays for whole.
    let seconds: Vec<f32> = (0..welcome.len() / RATE)
        .map(|k| {
            let t = &welcome[k * RATE..(k + 1) * RATE];
            let near = (w_at + k * RATE).saturating_sub(RATE / 2);
            best_match(&heard, t, near..near + RATE).0
        })
        .collect();
    let digit = prompt("digit-1");
    let (d_ncc, d_at) = best_match(&heard, &digit, w_end.saturating_sub(RATE / 2)..heard.len());
    eprintln!(
        "linphone offered {:?}; heard {:.2} s; welcome's second 1 ncc {w_ncc:.3}, welcome at {:.2} s (rms {heard_rms:.4} vs prompt {:.4}); digit-1 ncc {d_ncc:.3} at {:.2} s; welcome by second {seconds:.2?}",
        phone.offered_connection(),
        heard.len() as f32 / RATE as f32,
        w_at as f32 / RATE as f32,
        rms(&welcome),
        d_at as f32 / RATE as f32,
    );
    assert!(
        heard_rms > 0.3 * rms(&welcome),
        "welcome too quiet: rms {heard_rms}\n{}",
        phone.report(ura)
    );
    assert!(
        w_ncc >= 0.9,
        "welcome not heard (ncc {w_ncc})\n{}",
        phone.report(ura)
    );
    let clear = seconds.iter().filter(|&&n| n >= 0.9).count();
    assert!(
        seconds.iter().all(|&n| n >= 0.5) && clear >= seconds.len() - 2,
        "welcome not heard second by second ({seconds:.2?})\n{}",
        phone.report(ura)
    );
    assert!(
        d_ncc >= 0.5,
        "digit-1 not heard (ncc {d_ncc})\n{}",
        phone.report(ura)
    );
    phone
}

#[test]
fn linphone_over_ipv4_with_an_ipv6_offer_hears_the_echo() {
    let program = common::peer("linphonec", "linphone-cli");
    // ura's RTP is IPv4 only: an IPv6 SDP address is out of its reach.
    let ura = Ura::start(&[]);
    let phone = echo_call(&ura, &program);
    let offered = phone.offered_connection().unwrap_or_default();
    if offered.starts_with("c=IN IP6") {
        assert!(
            ura.wait_log(&["the SDP address is not used", "IPv4 only"])
                .is_some(),
            "no reason logged for {offered}\n{}",
            phone.report(&ura)
        );
    } else {
        eprintln!("linphone offered {offered:?} (no IPv6 here): the direct IPv4 case");
    }
    let _ = std::fs::remove_dir_all(&phone.dir);
}

/// The issue's own case: no microphone, so linphone sends next to no RTP
/// (none before its first digit); its STUN binding request, sent first
/// from its RTP port, is where ura sends.
#[test]
fn linphone_silent_over_ipv4_with_an_ipv6_offer_hears_the_echo() {
    let program = common::peer("linphonec", "linphone-cli");
    let ura = Ura::start(&[]);
    let phone = echo_call_saying(&ura, &program, None);
    // It was the STUN request: linphone sent (next to) no audio of its own.
    let stats = ura.wait_log(&["call media statistics"]).unwrap_or_default();
    let received = stats
        .split("packets_received: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse::<u64>().ok());
    eprintln!("ura received {received:?} RTP packets from the silent linphone");
    assert!(
        received.is_some_and(|n| n < 50),
        "linphone sent audio after all: {stats}"
    );
    let _ = std::fs::remove_dir_all(&phone.dir);
}

#[test]
fn linphone_over_ipv6_loopback_hears_the_echo() {
    let program = common::peer("linphonec", "linphone-cli");
    common::require_ipv6_loopback();
    let ura = Ura::start(&["--sip", "[::1]:0"]);
    let phone = echo_call(&ura, &program);
    assert!(
        ura.wait_log(&["the SDP address is not used"]).is_none(),
        "{}",
        phone.report(&ura)
    );
    let _ = std::fs::remove_dir_all(&phone.dir);
}

#[test]
fn linphone_over_the_machines_own_ipv6_hears_the_echo() {
    let program = common::peer("linphonec", "linphone-cli");
    let Some(ip) = own_ipv6() else {
        panic!(
            "this machine has no global IPv6 address: leave the tests that need it out with \
             `cargo nextest run --workspace --profile no-peers`"
        );
    };
    let ura = Ura::start(&["--sip", &format!("[{ip}]:0")]);
    let phone = echo_call(&ura, &program);
    let answer = format!("c=IN IP6 {ip}");
    let log = std::fs::read_to_string(phone.dir.join("linphone.log")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.trim() == answer),
        "ura's answer has no {answer}\n{}",
        phone.report(&ura)
    );
    let _ = std::fs::remove_dir_all(&phone.dir);
}
