//! Simulated-clock tests of the endpoint: every way a call can end.

use std::time::{Duration, Instant};

use super::*;
use crate::transport::Transport;

const CALLER: &str = "127.0.0.1:5062";

fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-test".into(),
            advertised: "127.0.0.1".parse().unwrap(),
            advertised_other: None,
            port: 5060,
        },
        1,
    )
}

fn flow() -> Flow {
    Flow::udp(CALLER.parse().unwrap())
}

fn invite(branch: &str, body: &str) -> String {
    format!(
        "INVITE sip:9000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=alice1\r\n\
To: <sip:9000@127.0.0.1>\r\n\
Call-ID: call-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@127.0.0.1:5062>\r\n\
Record-Route: <sip:proxy.example;lr>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn in_dialog(method: &str, cseq: u32, to_tag: &str, branch: &str, extra: &str) -> String {
    format!(
        "{method} sip:ura@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=alice1\r\n\
To: <sip:9000@127.0.0.1>;tag={to_tag}\r\n\
Call-ID: call-1\r\n\
CSeq: {cseq} {method}\r\n{extra}\r\n"
    )
}

/// Drains the outputs into (status codes / request lines, events).
fn drain(ep: &mut Endpoint) -> (Vec<Message>, Vec<Event>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit(t) => sent.push(Message::parse(&t.data).expect("we send valid SIP")),
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

fn codes(sent: &[Message]) -> Vec<u16> {
    sent.iter().filter_map(Message::status).collect()
}

/// INVITE → 100 → answer → 200; returns the dialog and our To tag.
fn answered(ep: &mut Endpoint, t0: Instant) -> (DialogId, String) {
    ep.handle_input(t0, flow(), invite("z9hG4bK-inv", "v=0\r\n").as_bytes());
    let (sent, events) = drain(ep);
    assert_eq!(codes(&sent), vec![100]);
    let Event::IncomingCall(call) = &events[0] else {
        panic!("expected a call, got {events:?}")
    };
    assert_eq!(call.request_user.as_deref(), Some("9000"));
    assert_eq!(call.body, b"v=0\r\n");
    let dialog = call.dialog;
    ep.answer(t0, dialog, b"v=0 answer").unwrap();
    let (sent, _) = drain(ep);
    assert_eq!(codes(&sent), vec![200]);
    let ok = &sent[0];
    assert_eq!(ok.body, b"v=0 answer");
    assert!(ok.header("Contact").is_some());
    assert_eq!(ok.header("Record-Route"), Some("<sip:proxy.example;lr>"));
    (dialog, ok.to_tag().unwrap().to_string())
}

fn confirmed(ep: &mut Endpoint, t0: Instant) -> (DialogId, String) {
    let (dialog, tag) = answered(ep, t0);
    ep.handle_input(
        t0,
        flow(),
        in_dialog("ACK", 1, &tag, "z9hG4bK-ack", "Content-Length: 0\r\n").as_bytes(),
    );
    let (sent, events) = drain(ep);
    assert!(sent.is_empty());
    assert_eq!(events, vec![Event::Confirmed { dialog, body: None }]);
    (dialog, tag)
}

#[test]
fn caller_hangs_up_with_bye() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = confirmed(&mut ep, t0);
    let bye = in_dialog("BYE", 2, &tag, "z9hG4bK-bye", "Content-Length: 0\r\n");
    ep.handle_input(t0, flow(), bye.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::RemoteBye
        }]
    );
    // A retransmitted BYE gets the same 200 from the transaction, no event.
    ep.handle_input(t0 + Duration::from_millis(500), flow(), bye.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
    assert!(events.is_empty());
    // Timer J ends the transaction; nothing is left.
    ep.handle_timeout(t0 + Duration::from_secs(33));
    assert_eq!(
        ep.transaction_count(),
        0,
        "INVITE (L) and BYE (J) transactions are gone"
    );
    assert_eq!(ep.dialog_count(), 0);
}

#[test]
fn ura_hangs_up_with_bye_retransmitted_until_answered() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = confirmed(&mut ep, t0);
    ep.hangup(t0, dialog).unwrap();
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    let bye = &sent[0];
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(
        bye.request_uri(),
        Some("sip:alice@127.0.0.1:5062"),
        "to the Contact"
    );
    assert_eq!(
        bye.header("Route"),
        Some("<sip:proxy.example;lr>"),
        "Record-Route honoured"
    );
    assert_eq!(bye.to_tag(), Some("alice1"));
    assert_eq!(bye.from_tag(), Some(tag.as_str()));
    // Timer E: again at 500 ms.
    ep.handle_timeout(t0 + Duration::from_millis(500));
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Bye));
    // The 200 stops it.
    let via = sent[0].header("Via").unwrap().to_string();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: call-1\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        sent[0].header("From").unwrap(),
        sent[0].header("To").unwrap(),
        sent[0].header("CSeq").unwrap()
    );
    ep.handle_input(t0 + Duration::from_millis(600), flow(), ok.as_bytes());
    ep.handle_timeout(t0 + Duration::from_secs(10));
    let (sent, _) = drain(&mut ep);
    assert!(
        sent.is_empty(),
        "no more retransmissions after the 200: {sent:?}"
    );
}

#[test]
fn cancel_before_answer_gets_200_and_487() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    ep.handle_input(t0, flow(), invite("z9hG4bK-inv", "").as_bytes());
    let (_, events) = drain(&mut ep);
    let Event::IncomingCall(call) = &events[0] else {
        panic!()
    };
    let dialog = call.dialog;
    ep.ring(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![180]);
    let cancel = "CANCEL sip:9000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-inv;rport\r\nMax-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=alice1\r\nTo: <sip:9000@127.0.0.1>\r\nCall-ID: call-1\r\n\
CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    ep.handle_input(t0, flow(), cancel.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200, 487]);
    assert_eq!(sent[0].cseq().unwrap().1, Method::Cancel);
    assert_eq!(sent[1].cseq().unwrap().1, Method::Invite);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::Cancelled
        }]
    );
    assert!(ep.answer(t0, dialog, b"x").is_err(), "too late to answer");
    // 487 retransmitted (Timer G) until the ACK, which is absorbed.
    ep.handle_timeout(t0 + Duration::from_millis(500));
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![487]);
    let tag = sent[0].to_tag().unwrap().to_string();
    let ack = format!(
        "ACK sip:9000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-inv;rport\r\n\
From: <sip:alice@127.0.0.1>;tag=alice1\r\nTo: <sip:9000@127.0.0.1>;tag={tag}\r\nCall-ID: call-1\r\n\
CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_input(t0 + Duration::from_millis(600), flow(), ack.as_bytes());
    ep.handle_timeout(t0 + Duration::from_secs(4));
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty());
    // A second CANCEL is a retransmission: 200 again, no 487.
    ep.handle_input(t0 + Duration::from_secs(5), flow(), cancel.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
}

#[test]
fn no_ack_retransmits_200_then_sends_bye() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, _) = answered(&mut ep, t0);
    let mut retransmits = 0;
    let mut now = t0;
    let mut events = Vec::new();
    let mut byes = 0;
    while let Some(t) = ep.poll_timeout() {
        if t > t0 + Duration::from_secs(31) && byes > 0 {
            break;
        }
        now = t;
        ep.handle_timeout(now);
        let (sent, ev) = drain(&mut ep);
        retransmits += codes(&sent).iter().filter(|c| **c == 200).count();
        byes += sent
            .iter()
            .filter(|m| m.method() == Some(&Method::Bye))
            .count();
        events.extend(ev);
        if !events.is_empty() {
            break;
        }
    }
    assert_eq!(now, t0 + Duration::from_secs(32), "Timer L = 64*T1");
    assert_eq!(retransmits, 10, "0.5, 1.5, 3.5, 7.5, 11.5 … 31.5 s");
    assert_eq!(byes, 1);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::NoAck
        }]
    );
}

#[test]
fn hangup_before_ack_waits_for_the_ack() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = answered(&mut ep, t0);
    ep.hangup(t0, dialog).unwrap();
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty());
    ep.handle_input(
        t0,
        flow(),
        in_dialog("ACK", 1, &tag, "z9hG4bK-ack", "").as_bytes(),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].method(), Some(&Method::Bye));
    assert_eq!(
        events[1],
        Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }
    );
}

#[test]
fn late_offer_answer_comes_in_the_ack() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = answered(&mut ep, t0);
    let ack = in_dialog(
        "ACK",
        1,
        &tag,
        "z9hG4bK-ack",
        "Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
    );
    let ack = ack.trim_end_matches("\r\n").to_string() + "\r\n";
    ep.handle_input(t0, flow(), ack.as_bytes());
    let (_, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Confirmed {
            dialog,
            body: Some(b"v=0\r\n".to_vec())
        }]
    );
}

#[test]
fn reinvite_for_hold_is_offered_and_answered() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = confirmed(&mut ep, t0);
    let sdp = "v=0\r\na=sendonly\r\n";
    let reinvite = in_dialog(
        "INVITE",
        2,
        &tag,
        "z9hG4bK-re",
        &format!("Contact: <sip:alice@127.0.0.1:5062>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", sdp.len()),
    );
    let reinvite = reinvite.trim_end_matches("\r\n").to_string() + "\r\n";
    ep.handle_input(t0, flow(), reinvite.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![100]);
    assert_eq!(
        events,
        vec![Event::ReOffer {
            dialog,
            body: Some(sdp.as_bytes().to_vec())
        }]
    );
    ep.accept_reoffer(t0, dialog, b"v=0\r\na=recvonly\r\n")
        .unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(sent[0].body, b"v=0\r\na=recvonly\r\n");
    assert_eq!(sent[0].to_tag(), Some(tag.as_str()));
    // Its ACK stops the retransmissions and is not a new Confirmed event.
    ep.handle_input(
        t0,
        flow(),
        in_dialog("ACK", 2, &tag, "z9hG4bK-ack2", "").as_bytes(),
    );
    ep.handle_timeout(t0 + Duration::from_secs(2));
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty(), "{sent:?} {events:?}");
}

#[test]
fn info_dtmf_gives_digits() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, tag) = confirmed(&mut ep, t0);
    let body = "Signal=5\r\nDuration=160\r\n";
    let info = in_dialog(
        "INFO",
        2,
        &tag,
        "z9hG4bK-i1",
        &format!(
            "Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    ep.handle_input(t0, flow(), info.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![200]);
    assert_eq!(events, vec![Event::InfoDigit { dialog, digit: '5' }]);
    let info = in_dialog(
        "INFO",
        3,
        &tag,
        "z9hG4bK-i2",
        "Content-Type: application/dtmf\r\nContent-Length: 1\r\n\r\n#",
    );
    ep.handle_input(t0, flow(), info.as_bytes());
    let (_, events) = drain(&mut ep);
    assert_eq!(events, vec![Event::InfoDigit { dialog, digit: '#' }]);
    assert_eq!(
        parse_dtmf_info(Some("application/dtmf-relay"), b"Signal=11\r\n"),
        Some('#')
    );
    assert_eq!(
        parse_dtmf_info(Some("application/dtmf-relay"), b"Signal=x\r\n"),
        None
    );
}

#[test]
fn unknown_dialogs_and_transactions_get_481() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    ep.handle_input(
        t0,
        flow(),
        in_dialog("BYE", 2, "nope", "z9hG4bK-b", "").as_bytes(),
    );
    let cancel =
        "CANCEL sip:9000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-x\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:9000@127.0.0.1>\r\nCall-ID: zz\r\nCSeq: 1 CANCEL\r\n\r\n";
    ep.handle_input(t0, flow(), cancel.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![481, 481]);
}

#[test]
fn options_methods_and_bad_requests() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let req = |m: &str, extra: &str| {
        format!(
            "{m} sip:9000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-{m}\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:9000@127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 {m}\r\n{extra}\r\n"
        )
    };
    for (raw, code) in [
        (req("OPTIONS", ""), 200),
        (req("REGISTER", ""), 405),
        (req("FOO", ""), 501),
        (req("INVITE", "Max-Forwards: 0\r\n"), 483),
        (req("INVITE", "Require: 100rel\r\n"), 420),
        (req("INVITE", "Max-Forwards: lots\r\n"), 400),
    ] {
        ep.handle_input(t0, flow(), raw.as_bytes());
        let (sent, events) = drain(&mut ep);
        assert_eq!(codes(&sent), vec![code], "for {raw}");
        assert!(events.is_empty());
        if code == 405 || code == 200 {
            assert_eq!(sent[0].header("Allow"), Some(ALLOW));
        }
    }
    // No Call-ID: 400 naming it.
    let raw = "INVITE sip:9000@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:9000@h>\r\nCSeq: 1 INVITE\r\n\r\n";
    ep.handle_input(t0, flow(), raw.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![400]);
    match &sent[0].start {
        crate::message::StartLine::Response { reason, .. } => assert_eq!(reason, "Missing Call-ID"),
        _ => unreachable!(),
    }
    // Wrong Content-Length: salvaged enough to say so.
    let raw = "INVITE sip:9000@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK2\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:9000@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0";
    ep.handle_input(t0, flow(), raw.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![400]);
    // Garbage: dropped.
    ep.handle_input(t0, flow(), b"\x00\x01garbage\r\n\r\n");
    assert!(drain(&mut ep).0.is_empty());
}

#[test]
fn invite_retransmission_is_absorbed() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let raw = invite("z9hG4bK-inv", "");
    ep.handle_input(t0, flow(), raw.as_bytes());
    let _ = drain(&mut ep);
    ep.handle_input(t0 + Duration::from_millis(500), flow(), raw.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![100], "the last provisional again");
    assert!(events.is_empty(), "not a second call");
}

#[test]
fn tcp_responses_use_the_connection() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let f = Flow {
        transport: Transport::Tcp,
        remote: "127.0.0.1:40000".parse().unwrap(),
        connection: Some(crate::transport::ConnectionId(7)),
    };
    ep.handle_input(t0, f, invite("z9hG4bK-tcp", "").as_bytes());
    match ep.poll_output() {
        Some(Output::Transmit(t)) => assert_eq!(t.flow, f),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_call_over_ipv6_gets_ipv6_via_contact_and_received() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-test".into(),
            advertised: "127.0.0.1".parse().unwrap(),
            advertised_other: Some("2001:db8::7".parse().unwrap()),
            port: 5060,
        },
        1,
    );
    let caller: SocketAddr = "[2001:db8::5]:5062".parse().unwrap();
    let v6 = |s: &str| {
        s.replace("127.0.0.1:5062", "[2001:db8::5]:5062")
            .replace("@127.0.0.1", "@[2001:db8::7]")
    };
    // Sent by SIPp-like callers: the Via names another port than the source.
    let invite =
        v6(&invite("z9hG4bK-v6", "v=0\r\n")).replace("[2001:db8::5]:5062;", "[2001:db8::5]:6000;");
    ep.handle_input(t0, Flow::udp(caller), invite.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(codes(&sent), vec![100]);
    let Event::IncomingCall(call) = &events[0] else {
        panic!("expected a call, got {events:?}")
    };
    assert_eq!(call.request_user.as_deref(), Some("9000"));
    assert_eq!(call.request_host.as_deref(), Some("2001:db8::7"));
    let dialog = call.dialog;
    ep.answer(t0, dialog, b"v=0 answer").unwrap();
    let mut out = Vec::new();
    while let Some(o) = ep.poll_output() {
        if let Output::Transmit(t) = o {
            out.push(t);
        }
    }
    let ok = Message::parse(&out[0].data).unwrap();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(out[0].flow.remote, caller, "rport: back to the source");
    assert_eq!(
        ok.header("Via"),
        Some("SIP/2.0/UDP [2001:db8::5]:6000;branch=z9hG4bK-v6;received=2001:db8::5;rport=5062")
    );
    assert_eq!(ok.header("Contact"), Some("<sip:ura@[2001:db8::7]:5060>"));
    // Our BYE: Via with the IPv6 literal in brackets, to the same flow.
    let ack = v6(&in_dialog(
        "ACK",
        1,
        ok.to_tag().unwrap(),
        "z9hG4bK-a6",
        "Content-Length: 0\r\n",
    ));
    ep.handle_input(t0, Flow::udp(caller), ack.as_bytes());
    drain(&mut ep);
    ep.hangup(t0, dialog).unwrap();
    let mut out = Vec::new();
    while let Some(o) = ep.poll_output() {
        if let Output::Transmit(t) = o {
            out.push(t);
        }
    }
    let bye = Message::parse(&out[0].data).unwrap();
    assert_eq!(out[0].flow.remote, caller);
    assert!(
        bye.header("Via")
            .unwrap()
            .starts_with("SIP/2.0/UDP [2001:db8::7]:5060;branch="),
        "{:?}",
        bye.header("Via")
    );
}

/// Drives the timers as the driver does: `handle_timeout` at each time
/// `poll_timeout` names, up to `until`.
fn run_timers_until(ep: &mut Endpoint, until: Instant) {
    for _ in 0..10_000 {
        match ep.poll_timeout() {
            Some(t) if t <= until => ep.handle_timeout(t),
            _ => return,
        }
        drain(ep);
    }
    panic!("timers never settle");
}

/// Found by the `endpoint` fuzz target: once the ACK stopped the 2xx
/// retransmissions, the queued retransmission time came up "not due" and
/// was dropped, so Timer L never fired and the INVITE transaction stayed
/// for ever (a leak per answered call) when the timers run at the times
/// `poll_timeout` gives, as the driver runs them.
#[test]
fn timer_l_ends_an_acked_invite_transaction_with_timers_run_step_by_step() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (_dialog, tag) = confirmed(&mut ep, t0);
    let bye = in_dialog("BYE", 2, &tag, "z9hG4bK-bye", "Content-Length: 0\r\n");
    ep.handle_input(t0, flow(), bye.as_bytes());
    drain(&mut ep);
    run_timers_until(&mut ep, t0 + Duration::from_secs(3600));
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
    assert_eq!(ep.poll_timeout(), None);
}

/// The same rule for incoming calls (see the `uac` test of that name): an
/// INVITE's Contact ura cannot send to gives way to the From URI, and a
/// re-INVITE's such Contact does not replace the target.
#[test]
fn a_contact_ura_cannot_send_to_is_not_the_remote_target() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let bad = invite("z9hG4bK-inv", "v=0\r\n").replace(
        "Contact: <sip:alice@127.0.0.1:5062>",
        "Contact: <sip:al\u{1}ice@127.0.0.1:5062>",
    );
    ep.handle_input(t0, flow(), bad.as_bytes());
    let (_, events) = drain(&mut ep);
    let Event::IncomingCall(call) = &events[0] else {
        panic!("expected a call, got {events:?}")
    };
    let dialog = call.dialog;
    ep.answer(t0, dialog, b"v=0 answer").unwrap();
    let (sent, _) = drain(&mut ep);
    let tag = sent[0].to_tag().unwrap().to_string();
    let ack = in_dialog("ACK", 1, &tag, "z9hG4bK-ack", "Content-Length: 0\r\n");
    ep.handle_input(t0, flow(), ack.as_bytes());
    let reinvite = in_dialog(
        "INVITE",
        2,
        &tag,
        "z9hG4bK-re",
        "Contact: <sip:x\u{7f}@127.0.0.1>\r\nContent-Length: 0\r\n",
    );
    ep.handle_input(t0, flow(), reinvite.as_bytes());
    drain(&mut ep);
    ep.reject_reoffer(t0, dialog, 488).unwrap();
    drain(&mut ep);
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    let bye = sent
        .iter()
        .find(|m| m.method() == Some(&Method::Bye))
        .unwrap();
    assert_eq!(
        bye.request_uri(),
        Some("sip:alice@127.0.0.1"),
        "the From URI"
    );
}
