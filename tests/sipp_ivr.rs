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
//! by itself after 60 s and is killed on drop. Without SIPp, its pcaps or
//! dumpcap the tests fail, saying what to install (the `no-peers` nextest
//! profile leaves them out, reported as skipped); so does a dumpcap that
//! cannot capture.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::caller::find_frames;
use common::sipp::{capture, free_port_on, loopback_of, media_port_on, pcap_dir, run, Run};
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

/// One IVR call: SIPp runs `tests/sipp/ivr/<name>.xml` against `ura` from a
/// fresh directory holding a copy of `digit_pcap`, while dumpcap records
/// what ura sends to SIPp's media port. Returns the outcome and the PCMU
/// payloads SIPp received. Panics when dumpcap cannot capture.
fn call(
    sipp: &Path,
    dumpcap: &Path,
    ura: &Ura,
    name: &str,
    digit_pcap: Option<(&Path, &str)>,
) -> (Run, Vec<Vec<u8>>) {
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
    let mut capture = capture(dumpcap, ip, mp, dir.join("heard.pcap"));
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
    (outcome, heard)
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

/// The peers this file needs; panics (the test fails) when one is missing.
fn peers() -> (PathBuf, PathBuf, PathBuf) {
    let sipp = common::peer("sipp", "sip-tester");
    let dumpcap = common::peer("dumpcap", "tshark");
    (sipp, dumpcap, pcap_dir())
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
    let (sipp, dumpcap, pcaps) = peers();
    let (out, heard) = call(
        &sipp,
        &dumpcap,
        &ura,
        "choice",
        Some((&pcaps, "dtmf_2833_2.pcap")),
    );
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
    let (sipp, dumpcap, _) = peers();
    let ura = ura();
    let (out, heard) = call(&sipp, &dumpcap, &ura, "closed", None);
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
    let (sipp, dumpcap, pcaps) = peers();
    let ura = ura();
    let (out, heard) = call(
        &sipp,
        &dumpcap,
        &ura,
        "invalid",
        Some((&pcaps, "dtmf_2833_9.pcap")),
    );
    let at = heard_in_order(&heard, &["ivr-welcome"], 0, &out, &ura);
    let at = heard_in_order(&heard, &MENU, at, &out, &ura);
    let at = heard_in_order(&heard, &["ivr-invalid"], at, &out, &ura);
    heard_in_order(&heard, &MENU, at, &out, &ura);
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1000 yes open 9 - caller-bye/caller"
    );
}
