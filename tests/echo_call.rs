//! Loopback end to end: a real `ura serve` and a caller written in Rust.
//! The G.711 payload the caller receives must equal the prompts' frames byte
//! for byte, and its digits must come back as the right spoken digits.

mod common;

use std::time::Duration;

use common::caller::{find_frames, Caller};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

fn wait(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Checks that the prompts were heard, in order, byte for byte.
fn assert_heard_in_order(caller: &Caller, prompts: &BuiltinPrompts, names: &[&str]) {
    let audio = caller.audio();
    let frames: Vec<Vec<u8>> = audio.iter().map(|p| p.payload.clone()).collect();
    let mut at = 0;
    for name in names {
        let prompt = prompts.get(name).unwrap().bytes(Codec::Pcmu);
        let found = find_frames(&frames, prompt, at).unwrap_or_else(|| {
            panic!(
                "{name} was not heard byte for byte after frame {at} ({} frames received)",
                frames.len()
            )
        });
        assert!(audio[found].marker, "{name} starts a talkspurt: marker bit");
        at = found + prompt.len() / 160;
    }
    // One stream, no gaps: sequence +1 and timestamp +160 every packet.
    for w in audio.windows(2) {
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence gap");
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160), "timestamp step");
    }
}

#[test]
fn echo_call_over_udp_with_rfc4733_digits() {
    let ura = Ura::start(&[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    let ok = caller.call("9000");
    assert_eq!(ok.status(), Some(200));
    assert!(caller.remote_rtp.is_some());
    caller.silence(5);
    // The whole welcome (6.75 s), then two digits and #.
    wait(7_200);
    caller.rfc4733_digit('1');
    wait(900);
    caller.rfc4733_digit('2');
    wait(900);
    caller.rfc4733_digit('#');
    let bye = caller.expect_request("BYE", Duration::from_secs(6));
    assert!(
        bye.is_some(),
        "ura hangs up after goodbye; logs: {:?}",
        ura.logs()
    );
    assert_heard_in_order(
        &caller,
        &prompts,
        &["echo-welcome", "digit-1", "digit-2", "goodbye"],
    );
    // The call record: number, answered, digits, who hung up and why.
    let rows = ura.records(1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].outcome(), "9000 yes - 12# - app-hangup/ura");
    // Paced, not sent in bursts: 20 ms apart on average over the call (loose:
    // receive times carry the test's own scheduling delays).
    let audio = caller.audio();
    let span = audio.last().unwrap().at - audio[0].at;
    let per = span.as_secs_f64() * 1000.0 / (audio.len() - 1) as f64;
    assert!((per - 20.0).abs() < 2.0, "mean spacing {per:.2} ms");
}

#[test]
fn echo_call_over_tcp_with_info_digits_and_barge_in() {
    let ura = Ura::start(&[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, true);
    assert_eq!(caller.call("9000").status(), Some(200));
    caller.silence(5);
    wait(1_000);
    // A digit during the welcome stops it.
    assert_eq!(caller.info_digit('7'), Some(200));
    wait(1_200);
    assert_eq!(caller.info_digit('*'), Some(200));
    wait(1_500);
    assert_eq!(caller.bye(), Some(200));
    let audio = caller.audio();
    let frames: Vec<Vec<u8>> = audio.iter().map(|p| p.payload.clone()).collect();
    let seven = prompts.digit('7').unwrap().bytes(Codec::Pcmu);
    let at7 = find_frames(&frames, seven, 0).expect("heard 'sete'");
    assert!(at7 < 150, "the welcome was cut short (sete at frame {at7})");
    let welcome = prompts.get("echo-welcome").unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&frames, welcome, 0).is_none(),
        "the whole welcome was not played"
    );
    let star = prompts.digit('*').unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&frames, star, at7).is_some(),
        "heard 'asterisco'"
    );
}

#[test]
fn unknown_number_gets_404_and_late_offer_works() {
    let ura = Ura::start(&[]);
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1234").status(), Some(404));
    assert_eq!(ura.records(1)[0].outcome(), "1234 no - - - refused-404/ura");
    // INVITE without SDP: the offer comes in the 200, the answer in the ACK.
    let mut caller = Caller::new(ura.sip, false);
    let invite = caller.invite_bytes("9000", false);
    caller.send_raw(invite.as_bytes());
    let ok = caller.recv_final(Duration::from_secs(5)).unwrap();
    assert_eq!(ok.status(), Some(200));
    let offer = ura_sip::sdp::SessionDescription::parse(&ok.body).unwrap();
    assert_eq!(offer.media[0].formats[..2], [0, 8], "PCMU and PCMA offered");
    let tag = ok.to_tag().unwrap().to_string();
    let answer = caller.offer();
    let ack = caller
        .in_dialog("ACK", 1, "application/sdp", &answer)
        .replace(";tag=\r\n", &format!(";tag={tag}\r\n"));
    caller.send_raw(ack.as_bytes());
    wait(1_000);
    let heard = caller.audio();
    assert!(
        heard.len() >= 40,
        "audio flows after the ACK's answer: {} packets",
        heard.len()
    );
    let prompts = BuiltinPrompts::load().unwrap();
    let welcome = prompts.get("echo-welcome").unwrap().bytes(Codec::Pcmu);
    assert_eq!(
        heard[0].payload,
        welcome[..160],
        "the welcome's first frame"
    );
}

#[test]
fn hold_and_unhold_with_reinvite() {
    let ura = Ura::start(&[]);
    let mut caller = Caller::new(ura.sip, false);
    let status = caller.call("9000").status();
    assert_eq!(status, Some(200), "logs: {:?}", ura.logs());
    caller.silence(5);
    wait(600);
    let answer = caller
        .reinvite("sendonly")
        .expect("200 to the hold re-INVITE");
    assert!(
        answer.contains("a=recvonly"),
        "hold answered recvonly: {answer}"
    );
    wait(200);
    let before = caller.audio().len();
    wait(1_000);
    let during = caller.audio().len() - before;
    assert!(during <= 1, "ura keeps quiet while held: {during} packets");
    let answer = caller
        .reinvite("sendrecv")
        .expect("200 to the unhold re-INVITE");
    assert!(
        answer.contains("a=sendrecv"),
        "unhold answered sendrecv: {answer}"
    );
    wait(1_000);
    let audio = caller.audio();
    let after = audio.len() - before - during;
    assert!(after >= 40, "audio again after unhold: {after} packets");
    // What comes after the unhold is the welcome going on, byte for byte
    // (40 frames in a row of it, past what was heard before the hold), and
    // it is speech, not silence frames.
    let prompts = BuiltinPrompts::load().unwrap();
    let welcome: Vec<Vec<u8>> = prompts
        .get("echo-welcome")
        .unwrap()
        .bytes(Codec::Pcmu)
        .chunks(160)
        .map(<[u8]>::to_vec)
        .collect();
    let frames: Vec<Vec<u8>> = audio.iter().map(|p| p.payload.clone()).collect();
    let resumed: Vec<u8> = frames[before + during..][..40].concat();
    let at = find_frames(&welcome, &resumed, 0)
        .unwrap_or_else(|| panic!("after the unhold: not 0.8 s of the welcome in a row"));
    let held_at = find_frames(&welcome, &frames[before - 5..before].concat(), 0)
        .expect("the welcome before the hold");
    assert!(
        at >= held_at + 5,
        "the welcome goes on after the hold (frame {at}), it does not start over (held at {held_at})"
    );
    let level = common::audio::rms_dbfs(&common::audio::decode(&resumed));
    assert!(
        level > -40.0,
        "speech after the unhold, not silence: {level:.1} dBFS"
    );
    assert_eq!(caller.bye(), Some(200));
}

#[test]
fn silent_caller_is_hung_up_but_not_while_holding() {
    let ura = Ura::start(&["--rtp-timeout", "2"]);
    // No RTP at all from this caller: BYE after about 2 s.
    let mut silent = Caller::new(ura.sip, false);
    assert_eq!(silent.call("9000").status(), Some(200));
    let started = std::time::Instant::now();
    assert!(
        silent
            .expect_request("BYE", Duration::from_secs(5))
            .is_some(),
        "BYE on RTP timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1_800),
        "not before the timeout: {waited:?}"
    );
    // A caller that holds us (inactive) for 3 s is not hung up.
    let mut holder = Caller::new(ura.sip, false);
    assert_eq!(holder.call("9000").status(), Some(200));
    holder.silence(3);
    let answer = holder.reinvite("inactive").expect("200 to hold");
    assert!(answer.contains("a=inactive"), "{answer}");
    assert!(
        holder
            .expect_request("BYE", Duration::from_secs(3))
            .is_none(),
        "no BYE while on hold"
    );
    assert_eq!(holder.bye(), Some(200));
}

#[test]
fn inband_tones_are_heard_as_digits() {
    let ura = Ura::start(&[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("9000").status(), Some(200));
    caller.silence(10);
    wait(500);
    // 60 ms tones: a digit each (barging into the welcome), then #.
    caller.inband_digit('5', 60);
    wait(1_000);
    caller.inband_digit('#', 60);
    assert!(
        caller
            .expect_request("BYE", Duration::from_secs(6))
            .is_some(),
        "the in-band # ends the call; logs: {:?}",
        ura.logs()
    );
    let frames: Vec<Vec<u8>> = caller.audio().iter().map(|p| p.payload.clone()).collect();
    let five = prompts.digit('5').unwrap().bytes(Codec::Pcmu);
    let at = find_frames(&frames, five, 0).expect("heard 'cinco'");
    let bye = prompts.get("goodbye").unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&frames, bye, at).is_some(),
        "heard goodbye after 'cinco'"
    );
    let digits: Vec<String> = ura
        .logs()
        .into_iter()
        .filter(|l| l.contains("DTMF"))
        .collect();
    assert_eq!(digits.len(), 2, "one digit per tone: {digits:?}");
}

#[test]
fn a_call_beyond_the_limit_gets_503_and_a_freed_line_takes_the_next() {
    let ura = Ura::start(&["--max-calls", "1"]);
    let mut first = Caller::new(ura.sip, false);
    assert_eq!(first.call("9000").status(), Some(200));
    first.silence(5);
    let mut second = Caller::new(ura.sip, false);
    assert_eq!(second.call("9000").status(), Some(503));
    // Unknown numbers are still told so, whatever the load.
    let mut unknown = Caller::new(ura.sip, false);
    assert_eq!(unknown.call("1234").status(), Some(404));
    assert_eq!(first.bye(), Some(200));
    let mut third = Caller::new(ura.sip, false);
    assert_eq!(third.call("9000").status(), Some(200));
    assert_eq!(third.bye(), Some(200));
    let mut outcomes: Vec<String> = ura.records(4).iter().map(|r| r.outcome()).collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "1234 no - - - refused-404/ura",
            "9000 no - - - refused-503/ura",
            "9000 yes - - - caller-bye/caller",
            "9000 yes - - - caller-bye/caller",
        ]
    );
}

#[test]
fn the_start_log_lists_what_ura_serves() {
    let ura = Ura::start(&[]);
    // The log lines come before the start line, through another pipe.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ura.logs().iter().any(|l| l.contains("recording by phone"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = ura.logs().join("\n");
    for want in [
        "serving 1000 (Demo aberto 24x7): IVR demo, hours always open",
        "serving agent 2001",
        "serving 9000: digit echo",
        "recording by phone is off (start with --recording-pin)",
    ] {
        assert!(
            logs.contains(want),
            "{want:?} not in the start log:\n{logs}"
        );
    }
    let rtp = format!("rtp={}-{}", ura.rtp_ports.0, ura.rtp_ports.1);
    assert!(logs.contains(&rtp), "the RTP range as LO-HI: {logs}");
    // The web chat's test URL has the HTTP port ura bound (it was given
    // port 0).
    let chat = format!("try it at http://{}/chat/site", ura.http);
    assert!(
        logs.contains(&chat),
        "{chat:?} not in the start log:\n{logs}"
    );
}
