//! baresip, a third-party softphone, calls ura's digit echo (`9000`) on
//! loopback, headless, and we check what it actually heard.
//!
//! baresip runs with a configuration written here: no sound card (its
//! microphone is a silent WAV via `aufile`, its speaker the `aubridge` null
//! device), PCMU only, no NAT helpers, and the `sndfile` filter recording
//! the decoded received audio (`dump-*-dec.wav`). The test drives it over
//! `ctrl_tcp` (netstring JSON): `dial`, then `sndcode 1` after the welcome
//! and `sndcode #` (RFC 4733 events), then waits for ura's BYE.
//!
//! Checks: the recording has energy during the welcome and correlates
//! (normalized cross-correlation ≥ 0.5) with the welcome prompt, then with
//! `digit-1` and `goodbye`; ura logged both digits and `call ended`; baresip
//! saw the call closed by the remote (a BYE from ura in its SIP trace).
//!
//! baresip is bounded by `-t` and killed from here; everything stays on
//! 127.0.0.1. Without baresip the test fails, saying what to install (the
//! `no-peers` nextest profile leaves it out, reported as skipped).

mod common;

use std::time::{Duration, Instant};

use common::baresip::{best_match, prompt, rms, Baresip, RATE};
use common::Ura;

#[test]
fn baresip_hears_welcome_and_digits_and_gets_bye() {
    let program = common::peer("baresip", "baresip");
    let started = Instant::now();
    let ura = Ura::start(&[]);
    let mut phone = Baresip::start(&program);

    phone.command("dial", &format!("sip:9000@127.0.0.1:{}", ura.sip.port()));
    let up = phone.event("CALL_ESTABLISHED", Duration::from_secs(5));
    assert!(up.is_some(), "call not established\n{}", phone.report(&ura));
    std::thread::sleep(Duration::from_millis(7_500)); // the welcome (6.75 s)
    phone.command("sndcode", "1");
    std::thread::sleep(Duration::from_millis(1_200));
    phone.command("sndcode", "#");
    let closed = phone.event("CALL_CLOSED", Duration::from_secs(10));
    phone.quit();
    eprintln!("baresip call took {:.1} s", started.elapsed().as_secs_f32());

    // baresip saw the call closed by ura: a BYE in its SIP trace.
    let closed = closed.unwrap_or_else(|| panic!("no CALL_CLOSED\n{}", phone.report(&ura)));
    let log = phone.log();
    let from_ura = format!("UDP {} -> ", ura.sip);
    let lines: Vec<&str> = log.lines().collect();
    let got_bye = lines
        .windows(2)
        .any(|w| w[0].starts_with(&from_ura) && w[1].starts_with("BYE "));
    assert!(
        got_bye
            && closed["param"]
                .as_str()
                .unwrap_or("")
                .contains("reset by peer"),
        "no BYE from ura (CALL_CLOSED {closed})\n{}",
        phone.report(&ura)
    );

    // ura heard both digits and ended the call.
    for words in [
        &["DTMF", "digit=1"][..],
        &["DTMF", "digit=#"],
        &["call ended"],
    ] {
        assert!(
            ura.wait_log(words).is_some(),
            "ura logged no {words:?}\n{}",
            phone.report(&ura)
        );
    }

    // What baresip heard: the welcome, then "um", then the goodbye.
    let heard = phone
        .recording()
        .unwrap_or_else(|| panic!("no sndfile recording\n{}", phone.report(&ura)));
    let welcome = prompt("echo-welcome");
    let (w_ncc, w_at) = best_match(&heard, &welcome[..3 * RATE], 0..2 * RATE);
    let w_end = w_at + welcome.len();
    let heard_rms = rms(&heard[w_at..w_end.min(heard.len())]);
    let (d_ncc, d_at) = best_match(
        &heard,
        &prompt("digit-1"),
        w_end.saturating_sub(RATE / 2)..heard.len(),
    );
    // The goodbye's first 2 s: baresip drops what sits in its jitter buffer
    // when ura's BYE (sent right after the last packet) arrives.
    let digit_end = d_at + prompt("digit-1").len();
    let (g_ncc, g_at) = best_match(
        &heard,
        &prompt("goodbye")[..2 * RATE],
        digit_end..heard.len(),
    );
    let secs = |n: usize| n as f32 / RATE as f32;
    eprintln!(
        "recording {:.2} s; welcome ncc {w_ncc:.3} at {:.2} s (rms {heard_rms:.4} vs prompt {:.4}); \
         digit-1 ncc {d_ncc:.3} at {:.2} s; goodbye ncc {g_ncc:.3} at {:.2} s",
        secs(heard.len()),
        secs(w_at),
        rms(&welcome),
        secs(d_at),
        secs(g_at),
    );
    assert!(
        heard_rms > 0.3 * rms(&welcome),
        "welcome too quiet: rms {heard_rms}\n{}",
        phone.report(&ura)
    );
    assert!(
        w_ncc >= 0.5,
        "welcome not heard (ncc {w_ncc})\n{}",
        phone.report(&ura)
    );
    assert!(
        d_ncc >= 0.5,
        "digit-1 not heard (ncc {d_ncc})\n{}",
        phone.report(&ura)
    );
    assert!(
        g_ncc >= 0.5,
        "goodbye not heard (ncc {g_ncc})\n{}",
        phone.report(&ura)
    );
    let _ = std::fs::remove_dir_all(&phone.dir);
}
