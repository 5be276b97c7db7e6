//! IPv6 and address families end to end: a real `ura serve` and the Rust
//! test caller, on 127.0.0.1 and ::1 only.
//!
//! - over IPv6 (ura on `[::1]`), the answer is `c=IN IP6 ::1` and the
//!   caller hears the welcome byte for byte;
//! - ura on `[::]` (dual-stack) serves an IPv4 and an IPv6 caller, each
//!   answered in its own family;
//! - an offer whose `c=` ura cannot reach (IPv6 to an IPv4-only ura) while
//!   the caller's RTP comes from 127.0.0.1: ura says why once, latches to
//!   the caller's RTP, and the caller hears the welcome; a STUN binding
//!   request from the caller's RTP port (linphone's first packet) does as
//!   well.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::caller::{find_frames, Caller};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;
use ura_sip::sdp::SessionDescription;

fn wait(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The `c=` address of ura's answer.
fn answer_address(ok: &ura_sip::Message) -> IpAddr {
    let sdp = SessionDescription::parse(&ok.body).expect("SDP in the 200");
    sdp.media[0]
        .connection_address(&sdp)
        .expect("c= in the answer")
}

/// Calls 9000, keeps sending silence for `ms`, and returns the PCMU
/// frames heard.
fn heard_during(caller: &mut Caller, ms: u64) -> Vec<Vec<u8>> {
    for _ in 0..ms / 20 {
        caller.silence(1);
        wait(20);
    }
    caller.audio().iter().map(|p| p.payload.clone()).collect()
}

/// The first `n` frames of the echo welcome, after `skip` frames.
fn welcome_part(skip: usize, n: usize) -> Vec<u8> {
    let prompts = BuiltinPrompts::load().unwrap();
    prompts.get("echo-welcome").unwrap().bytes(Codec::Pcmu)[160 * skip..160 * (skip + n)].to_vec()
}

#[test]
fn a_call_over_ipv6_is_answered_in_ipv6_and_heard() {
    common::require_ipv6_loopback();
    let ura = Ura::start(&["--sip", "[::1]:0"]);
    assert!(ura.sip.is_ipv6(), "{}", ura.sip);
    let mut caller = Caller::new(ura.sip, false);
    let ok = caller.call("9000");
    assert_eq!(ok.status(), Some(200), "{:?}", ura.logs());
    assert_eq!(answer_address(&ok), "::1".parse::<IpAddr>().unwrap());
    assert!(
        ok.header("Contact").unwrap().contains("@[::1]:"),
        "{:?}",
        ok.header("Contact")
    );
    let heard = heard_during(&mut caller, 2_000);
    assert!(
        find_frames(&heard, &welcome_part(0, 50), 0).is_some(),
        "the welcome's first second not heard ({} frames)\n{:?}",
        heard.len(),
        ura.logs()
    );
    caller.rfc4733_digit('#');
    assert!(
        ura.wait_log(&["DTMF", "digit=#"]).is_some(),
        "{:?}",
        ura.logs()
    );
    assert_eq!(caller.bye(), Some(200));
}

#[test]
fn dual_stack_ura_answers_each_caller_in_its_family() {
    common::require_ipv6_loopback();
    let ura = Ura::start(&["--sip", "[::]:0"]);
    let port = ura.sip.port();
    for server in ["127.0.0.1", "::1"] {
        let server = SocketAddr::new(server.parse().unwrap(), port);
        let mut caller = Caller::new(server, false);
        let ok = caller.call("9000");
        assert_eq!(ok.status(), Some(200), "{server}: {:?}", ura.logs());
        // rport and received name the caller as it is, not IPv4-mapped.
        let via = ok.header("Via").unwrap().to_string();
        let local = caller.rtp.local_addr().unwrap().ip();
        assert!(!via.contains("::ffff:"), "{via}");
        assert_eq!(
            answer_address(&ok),
            local,
            "answered in the caller's family"
        );
        let heard = heard_during(&mut caller, 1_500);
        assert!(
            find_frames(&heard, &welcome_part(0, 25), 0).is_some(),
            "{server}: the welcome not heard ({} frames)\n{:?}",
            heard.len(),
            ura.logs()
        );
        assert_eq!(caller.bye(), Some(200), "{server}");
    }
}

#[test]
fn an_unreachable_sdp_address_is_logged_and_the_callers_rtp_is_latched() {
    common::require_ipv6_loopback();
    // ura's media is IPv4 only (bound to 127.0.0.1); the caller says its
    // media is at an IPv6 address, but its RTP comes from 127.0.0.1.
    let ura = Ura::start(&[]);
    let mut caller = Caller::new(ura.sip, false);
    caller.sdp_connection = "IN IP6 ::1".into();
    let ok = caller.call("9000");
    assert_eq!(ok.status(), Some(200), "{:?}", ura.logs());
    assert_eq!(
        answer_address(&ok),
        "127.0.0.1".parse::<IpAddr>().unwrap(),
        "answered with the family ura has"
    );
    // Nothing can be sent before the caller's RTP says where to.
    wait(300);
    assert!(caller.audio().is_empty(), "RTP before any latch");
    let why = ura.wait_log(&["the SDP address is not used", "IPv4 only"]);
    assert!(why.is_some(), "no reason logged: {:?}", ura.logs());
    let heard = heard_during(&mut caller, 2_000);
    // The welcome went on while nothing could be sent: from 1 s on, it
    // is heard byte for byte.
    assert!(
        find_frames(&heard, &welcome_part(50, 25), 0).is_some(),
        "the welcome not heard after latching ({} frames)\n{:?}",
        heard.len(),
        ura.logs()
    );
    assert_eq!(caller.bye(), Some(200));
    let stats = ura.wait_log(&["call media statistics"]).unwrap_or_default();
    assert!(stats.contains("send_failed: 0"), "{stats}");
    assert!(
        stats.contains(&format!(
            "remote_rtp: Some({})",
            caller.rtp.local_addr().unwrap()
        )),
        "latched to the caller's RTP: {stats}"
    );
    let lines = ura
        .logs()
        .iter()
        .filter(|l| l.contains("the SDP address is not used"))
        .count();
    assert_eq!(lines, 1, "logged once");
    // Media flowed: the record carries no warning.
    assert_eq!(ura.records(1)[0].media_warning, None);
}

#[test]
fn an_answered_call_that_sent_nothing_is_a_warning() {
    common::require_ipv6_loopback();
    // As above, but the caller never sends: ura has nowhere to send.
    let ura = Ura::start(&[]);
    let mut caller = Caller::new(ura.sip, false);
    caller.sdp_connection = "IN IP6 ::1".into();
    assert_eq!(caller.call("9000").status(), Some(200));
    wait(500);
    assert_eq!(caller.bye(), Some(200));
    let warning = ura.wait_log(&["WARN", "packets_sent 0", "the caller heard nothing"]);
    assert!(warning.is_some(), "{:?}", ura.logs());
    assert!(caller.audio().is_empty());
    // And in the call record.
    let rows = ura.records(1);
    let w = rows[0].media_warning.as_deref().unwrap_or_default();
    assert!(w.starts_with("packets_sent 0:"), "{rows:?}");
    assert_eq!(rows[0].ending(), "caller-bye/caller");
}

#[test]
fn with_an_unreachable_sdp_address_a_stun_binding_request_tells_where_to_send() {
    common::require_ipv6_loopback();
    // What linphone does first: a STUN binding request from its RTP port,
    // before any RTP (and a silent phone may send no RTP at all).
    let ura = Ura::start(&[]);
    let mut caller = Caller::new(ura.sip, false);
    caller.sdp_connection = "IN IP6 ::1".into();
    assert_eq!(caller.call("9000").status(), Some(200));
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    stun.extend_from_slice(&[7; 12]);
    let to = caller.remote_rtp.expect("ura's RTP address");
    caller.rtp.send_to(&stun, to).unwrap();
    wait(1_500);
    let heard: Vec<Vec<u8>> = caller.audio().iter().map(|p| p.payload.clone()).collect();
    assert!(
        find_frames(&heard, &welcome_part(10, 25), 0).is_some(),
        "nothing heard after the STUN request ({} frames)\n{:?}",
        heard.len(),
        ura.logs()
    );
    assert_eq!(caller.bye(), Some(200));
}
