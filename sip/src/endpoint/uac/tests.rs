//! Simulated-clock tests of outgoing calls and REFER: the agent's softphone
//! is played with raw SIP text, and what the endpoint sends is parsed back.

use std::time::{Duration, Instant};

use super::*;
use crate::message::StartLine;
use crate::transport::{ConnectionId, Transport};

const AGENT: &str = "10.0.0.9:5070";
const T1: Duration = Duration::from_millis(500);

fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-test".into(),
            advertised: "127.0.0.1".parse().unwrap(),
            advertised_other: None,
            port: 5060,
        },
        7,
    )
}

fn udp() -> Flow {
    Flow::udp(AGENT.parse().unwrap())
}

fn tcp() -> Flow {
    Flow {
        transport: Transport::Tcp,
        remote: AGENT.parse().unwrap(),
        connection: Some(ConnectionId(42)),
    }
}

fn outgoing(target: Flow) -> OutgoingCall {
    OutgoingCall {
        target,
        request_uri: "sip:agent1@10.0.0.9:5070;transport=udp".into(),
        from_display: Some("Cliente \"VIP\"".into()),
        from_user: "+5511999990000".into(),
        to_uri: "sip:agent1@ura.example".into(),
        extra_headers: vec![("X-Ura-Queue".into(), "vendas".into())],
        sdp: b"v=0\r\no=ura offer\r\n".to_vec(),
    }
}

fn drain(ep: &mut Endpoint) -> (Vec<Message>, Vec<Event>) {
    drain_flows(ep)
        .into_iter()
        .fold((Vec::new(), Vec::new()), |(mut sent, mut events), o| {
            match o {
                Ok((_, m)) => sent.push(m),
                Err(e) => events.push(e),
            }
            (sent, events)
        })
}

fn drain_flows(ep: &mut Endpoint) -> Vec<Result<(Flow, Message), Event>> {
    let mut v = Vec::new();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit(t) => v.push(Ok((
                t.flow,
                Message::parse(&t.data).expect("we send valid SIP"),
            ))),
            Output::Event(e) => v.push(Err(e)),
        }
    }
    v
}

/// Places a call and returns its handle and the INVITE as sent.
fn place(ep: &mut Endpoint, t0: Instant, target: Flow) -> (DialogId, Message) {
    let dialog = ep.call(t0, outgoing(target)).unwrap();
    let (sent, events) = drain(ep);
    assert!(events.is_empty());
    assert_eq!(sent.len(), 1);
    (dialog, sent.into_iter().next().unwrap())
}

/// The agent's response to our request `req`.
fn response(req: &Message, code: u16, to_tag: Option<&str>, extra: &str, body: &str) -> String {
    let mut s = format!("SIP/2.0 {code} {}\r\n", builder::reason_phrase(code));
    for via in req.headers_named("Via") {
        s.push_str(&format!("Via: {via}\r\n"));
    }
    let to = req.header("To").unwrap();
    let to = match to_tag {
        Some(t) if req.to_tag().is_none() => format!("{to};tag={t}"),
        _ => to.to_string(),
    };
    s.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}",
        req.header("From").unwrap(),
        req.call_id().unwrap(),
        req.header("CSeq").unwrap(),
    ));
    if body.is_empty() {
        s.push_str("Content-Length: 0\r\n\r\n");
    } else {
        s.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    s
}

const OK_EXTRA: &str = "Contact: <sip:agent1@10.0.0.9:5070;ob>\r\n\
Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n";

/// A request the agent sends inside the dialog made by `invite`'s 2xx.
fn from_agent(invite: &Message, method: &str, cseq: u32, branch: &str, extra: &str) -> String {
    format!(
        "{method} sip:ura@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.9:5070;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: {};tag=agent-tag\r\n\
To: {}\r\n\
Call-ID: {}\r\n\
CSeq: {cseq} {method}\r\n{extra}",
        invite.header("To").unwrap(),
        invite.header("From").unwrap(),
        invite.call_id().unwrap(),
    )
}

/// Call → 100 → 180 → 200: returns the handle, the INVITE and our ACK.
fn answered(ep: &mut Endpoint, t0: Instant) -> (DialogId, Message, Message) {
    let (dialog, inv) = place(ep, t0, udp());
    ep.handle_input(t0, udp(), response(&inv, 100, None, "", "").as_bytes());
    assert_quiet(ep, "100: nothing to tell");
    ep.handle_input(
        t0,
        udp(),
        response(&inv, 180, Some("agent-tag"), "", "").as_bytes(),
    );
    let (sent, events) = drain(ep);
    assert!(sent.is_empty());
    assert_eq!(
        events,
        vec![Event::Progress {
            dialog,
            status: 180,
            body: None
        }]
    );
    let ok = response(&inv, 200, Some("agent-tag"), OK_EXTRA, "v=0 answer\r\n");
    ep.handle_input(t0, udp(), ok.as_bytes());
    let (sent, events) = drain(ep);
    assert_eq!(
        events,
        vec![Event::Answered {
            dialog,
            body: Some(b"v=0 answer\r\n".to_vec())
        }]
    );
    assert_eq!(sent.len(), 1);
    let ack = sent.into_iter().next().unwrap();
    (dialog, inv, ack)
}

/// Runs the clock far enough for every transaction timer to expire.
fn run_out(ep: &mut Endpoint, t0: Instant) -> (Vec<Message>, Vec<Event>) {
    let mut now = t0;
    let end = t0 + Duration::from_secs(70);
    while let Some(t) = ep.poll_timeout() {
        if t > end {
            break;
        }
        now = now.max(t);
        ep.handle_timeout(now);
    }
    drain(ep)
}

/// Nothing sent, no event.
fn assert_quiet(ep: &mut Endpoint, what: &str) {
    let (sent, events) = drain(ep);
    let lines: Vec<String> = sent.iter().map(|m| format!("{:?}", m.start)).collect();
    assert!(
        sent.is_empty() && events.is_empty(),
        "{what}: sent {lines:?}, events {events:?}"
    );
}

fn reason(m: &Message) -> &str {
    match &m.start {
        StartLine::Response { reason, .. } => reason,
        StartLine::Request { .. } => "",
    }
}

#[test]
fn invite_has_the_headers_an_agent_needs() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (_, inv) = place(&mut ep, t0, udp());
    assert_eq!(inv.method(), Some(&Method::Invite));
    assert_eq!(
        inv.request_uri(),
        Some("sip:agent1@10.0.0.9:5070;transport=udp")
    );
    let via = inv.top_via().unwrap();
    assert_eq!(
        (via.transport.as_str(), via.host.as_str(), via.port),
        ("UDP", "127.0.0.1", Some(5060))
    );
    assert!(via.branch.unwrap().starts_with("z9hG4bK"));
    assert!(via.rport);
    assert_eq!(inv.header("Max-Forwards"), Some("70"));
    let from = inv.header("From").unwrap();
    assert!(
        from.starts_with("\"Cliente \\\"VIP\\\"\" <sip:+5511999990000@127.0.0.1>;tag="),
        "{from}"
    );
    assert!(inv.from_tag().is_some_and(|t| !t.is_empty()));
    assert_eq!(inv.header("To"), Some("<sip:agent1@ura.example>"));
    assert!(inv.call_id().is_some_and(|c| c.len() > 10));
    assert_eq!(inv.header("CSeq"), Some("1 INVITE"));
    assert_eq!(inv.header("Contact"), Some("<sip:ura@127.0.0.1:5060>"));
    assert!(inv.header("Allow").unwrap().contains("REFER"));
    assert_eq!(inv.header("X-Ura-Queue"), Some("vendas"));
    assert_eq!(inv.header("User-Agent"), Some("ura-test"));
    assert_eq!(inv.content_type().as_deref(), Some("application/sdp"));
    assert_eq!(inv.body, b"v=0\r\no=ura offer\r\n");
    // A second call gets its own Call-ID, tag and branch.
    let (_, inv2) = place(&mut ep, t0, udp());
    assert_ne!(inv2.call_id(), inv.call_id());
    assert_ne!(inv2.from_tag(), inv.from_tag());
    assert_ne!(
        inv2.top_via().unwrap().branch,
        inv.top_via().unwrap().branch
    );
    assert_eq!(ep.dialog_count(), 2, "ringing calls count as dialogs");
}

#[test]
fn answered_call_is_acked_once_per_2xx_and_ends_on_agent_bye() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv, ack) = answered(&mut ep, t0);
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(
        ack.request_uri(),
        Some("sip:agent1@10.0.0.9:5070;ob"),
        "to the 2xx Contact"
    );
    assert_eq!(ack.call_id(), inv.call_id());
    assert_eq!(ack.header("CSeq"), Some("1 ACK"));
    let routes: Vec<&str> = ack.headers_named("Route").collect();
    assert_eq!(
        routes,
        vec!["<sip:p2.example;lr>", "<sip:p1.example;lr>"],
        "Record-Route reversed"
    );
    assert_eq!(ack.to_tag(), Some("agent-tag"));
    assert_eq!(ack.from_tag(), inv.from_tag());
    let ack_branch = ack.top_via().unwrap().branch.unwrap();
    assert!(ack_branch.starts_with("z9hG4bK"));
    assert_ne!(
        Some(ack_branch),
        inv.top_via().unwrap().branch,
        "new branch"
    );
    // No INVITE retransmission once answered.
    ep.handle_timeout(t0 + T1);
    assert_quiet(&mut ep, "");
    // The 2xx again (our ACK was lost): the same ACK, no new event.
    let ok = response(&inv, 200, Some("agent-tag"), OK_EXTRA, "v=0 answer\r\n");
    ep.handle_input(t0 + T1, udp(), ok.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert!(events.is_empty());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("CSeq"), Some("1 ACK"));
    assert_eq!(sent[0].top_via(), ack.top_via());
    assert_eq!(ep.dialog_count(), 1);
    // The agent hangs up.
    let bye = from_agent(&inv, "BYE", 1, "z9hG4bK-abye", "Content-Length: 0\r\n\r\n");
    ep.handle_input(t0 + T1 * 4, udp(), bye.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::RemoteBye
        }]
    );
    assert_eq!(ep.dialog_count(), 0);
    let (sent, events) = run_out(&mut ep, t0);
    assert!(sent.is_empty() && events.is_empty());
    assert_eq!(ep.transaction_count(), 0, "Timer M and J ran out");
    assert_eq!(ep.poll_timeout(), None);
}

#[test]
fn our_hangup_after_answer_sends_bye_in_the_dialog() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv, _) = answered(&mut ep, t0);
    ep.hangup(t0, dialog).unwrap();
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    assert_eq!(sent.len(), 1);
    let bye = &sent[0];
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(bye.request_uri(), Some("sip:agent1@10.0.0.9:5070;ob"));
    assert_eq!(bye.header("CSeq"), Some("2 BYE"));
    assert_eq!(
        bye.headers_named("Route").collect::<Vec<_>>(),
        vec!["<sip:p2.example;lr>", "<sip:p1.example;lr>"]
    );
    assert_eq!(bye.to_tag(), Some("agent-tag"));
    assert_eq!(bye.from_tag(), inv.from_tag());
    assert_eq!(bye.call_id(), inv.call_id());
    ep.handle_input(t0, udp(), response(bye, 200, None, "", "").as_bytes());
    assert_quiet(&mut ep, "");
    assert_eq!(ep.hangup(t0, dialog), Err(SipError::UnknownCall));
    let (sent, _) = run_out(&mut ep, t0);
    assert!(sent.is_empty(), "no BYE retransmission after its 200");
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn busy_is_acked_on_the_invite_branch_and_fails_the_call() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    let busy = response(&inv, 486, Some("agent-tag"), "", "");
    ep.handle_input(t0, udp(), busy.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::CallFailed {
            dialog,
            status: 486,
            reason: "Busy Here".into()
        }]
    );
    assert_eq!(sent.len(), 1);
    let ack = &sent[0];
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), inv.request_uri());
    assert_eq!(ack.top_via(), inv.top_via(), "same Via and branch");
    assert_eq!(ack.header("CSeq"), Some("1 ACK"));
    assert_eq!(ack.to_tag(), Some("agent-tag"));
    assert_eq!(ep.dialog_count(), 0);
    // The 486 again: ACK again, no event.
    ep.handle_input(t0 + T1, udp(), busy.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert!(events.is_empty());
    assert_eq!(ep.hangup(t0, dialog), Err(SipError::UnknownCall));
    run_out(&mut ep, t0);
    assert_eq!(ep.transaction_count(), 0, "Timer D ran out");
}

#[test]
fn unanswered_invite_is_retransmitted_then_times_out_with_408() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    let mut at = Vec::new();
    let mut events = Vec::new();
    let mut now = t0;
    while let Some(t) = ep.poll_timeout() {
        now = t;
        ep.handle_timeout(now);
        let (sent, ev) = drain(&mut ep);
        for m in sent {
            assert_eq!(m.top_via(), inv.top_via());
            assert_eq!(m.header("CSeq"), Some("1 INVITE"));
            at.push(now - t0);
        }
        events.extend(ev);
    }
    let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(now - t0, T1 * 64, "Timer B");
    assert_eq!(
        events,
        vec![Event::CallFailed {
            dialog,
            status: 408,
            reason: "Request Timeout".into()
        }]
    );
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn cancel_while_ringing_sends_cancel_then_acks_the_487() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.handle_input(
        t0,
        udp(),
        response(&inv, 180, Some("agent-tag"), "", "").as_bytes(),
    );
    let _ = drain(&mut ep);
    ep.hangup(t0, dialog).unwrap();
    let (sent, events) = drain(&mut ep);
    assert!(events.is_empty(), "Ended comes with the 487");
    assert_eq!(sent.len(), 1);
    let cancel = &sent[0];
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.request_uri(), inv.request_uri());
    assert_eq!(cancel.top_via(), inv.top_via(), "same branch");
    assert_eq!(cancel.header("CSeq"), Some("1 CANCEL"));
    assert_eq!(cancel.header("From"), inv.header("From"));
    assert_eq!(cancel.header("To"), inv.header("To"));
    assert_eq!(cancel.call_id(), inv.call_id());
    // Hanging up again changes nothing.
    ep.hangup(t0, dialog).unwrap();
    assert_quiet(&mut ep, "");
    // CANCEL retransmitted at T1 until its 200.
    ep.handle_timeout(t0 + T1);
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Cancel));
    ep.handle_input(
        t0 + T1,
        udp(),
        response(cancel, 200, None, "", "").as_bytes(),
    );
    assert_quiet(&mut ep, "");
    let terminated = response(&inv, 487, Some("agent-tag"), "", "");
    ep.handle_input(t0 + T1, udp(), terminated.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert_eq!(sent[0].top_via(), inv.top_via());
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    let (sent, _) = run_out(&mut ep, t0);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.hangup(t0, dialog).unwrap();
    assert_quiet(&mut ep, "no CANCEL yet (§9.1)");
    ep.handle_input(t0, udp(), response(&inv, 100, None, "", "").as_bytes());
    let (sent, events) = drain(&mut ep);
    assert!(events.is_empty());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Cancel));
    assert_eq!(sent[0].top_via(), inv.top_via());
    // A 180 now is not reported: the call is being cancelled.
    ep.handle_input(t0, udp(), response(&inv, 180, Some("a"), "", "").as_bytes());
    assert_quiet(&mut ep, "");

    // And when nothing ever comes back, Timer B ends it without a CANCEL.
    let (dialog, inv2) = place(&mut ep, t0, udp());
    ep.hangup(t0, dialog).unwrap();
    let mut now = t0;
    let mut cancels = 0;
    let mut events = Vec::new();
    while now < t0 + T1 * 64 {
        now += T1;
        ep.handle_timeout(now);
        let (sent, ev) = drain(&mut ep);
        cancels += sent
            .iter()
            .filter(|m| m.method() == Some(&Method::Cancel) && m.call_id() == inv2.call_id())
            .count();
        events.extend(ev.into_iter().filter(|e| match e {
            Event::Ended { dialog: d, .. } | Event::CallFailed { dialog: d, .. } => *d == dialog,
            _ => false,
        }));
    }
    assert_eq!(cancels, 0, "no provisional, no CANCEL");
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_byed() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.handle_input(
        t0,
        udp(),
        response(&inv, 180, Some("agent-tag"), "", "").as_bytes(),
    );
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    let cancel = sent[0].clone();
    // The agent answered before it saw the CANCEL.
    let ok = response(&inv, 200, Some("agent-tag"), OK_EXTRA, "v=0\r\n");
    ep.handle_input(t0, udp(), ok.as_bytes());
    let (sent, events) = drain(&mut ep);
    let methods: Vec<_> = sent.iter().filter_map(|m| m.method().cloned()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert_eq!(sent[0].request_uri(), Some("sip:agent1@10.0.0.9:5070;ob"));
    assert_eq!(sent[1].request_uri(), Some("sip:agent1@10.0.0.9:5070;ob"));
    assert_eq!(sent[1].header("CSeq"), Some("2 BYE"));
    assert_eq!(sent[1].to_tag(), Some("agent-tag"));
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    let bye = sent[1].clone();
    ep.handle_input(t0, udp(), response(&cancel, 200, None, "", "").as_bytes());
    ep.handle_input(t0, udp(), response(&bye, 200, None, "", "").as_bytes());
    // The 2xx retransmitted: ACK only, no second BYE.
    ep.handle_input(t0 + T1, udp(), ok.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert!(events.is_empty());
    run_out(&mut ep, t0);
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn a_forked_second_2xx_is_acked_and_byed() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv, _) = answered(&mut ep, t0);
    let other = response(
        &inv,
        200,
        Some("fork-2"),
        "Contact: <sip:agent1@10.0.0.10:5070>\r\n",
        "v=0\r\n",
    );
    ep.handle_input(t0, udp(), other.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert!(events.is_empty(), "the app keeps the first answer");
    let methods: Vec<_> = sent.iter().filter_map(|m| m.method().cloned()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert!(sent.iter().all(|m| m.to_tag() == Some("fork-2")));
    assert!(sent
        .iter()
        .all(|m| m.request_uri() == Some("sip:agent1@10.0.0.10:5070")));
    assert_eq!(ep.dialog_count(), 1);
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].to_tag(), Some("agent-tag"));
    run_out(&mut ep, t0);
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn over_tcp_the_flow_is_kept_and_nothing_is_retransmitted() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let dialog = ep.call(t0, outgoing(tcp())).unwrap();
    let out = drain_flows(&mut ep);
    assert_eq!(out.len(), 1);
    let Ok((flow, inv)) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(*flow, tcp());
    assert_eq!(inv.top_via().unwrap().transport, "TCP");
    assert_eq!(
        inv.header("Contact"),
        Some("<sip:ura@127.0.0.1:5060;transport=tcp>")
    );
    // No Timer A on TCP: nothing until Timer B.
    ep.handle_timeout(t0 + Duration::from_secs(20));
    assert!(drain_flows(&mut ep).is_empty());
    let ok = response(inv, 200, Some("agent-tag"), OK_EXTRA, "v=0\r\n");
    ep.handle_input(t0 + Duration::from_secs(20), tcp(), ok.as_bytes());
    let out = drain_flows(&mut ep);
    assert_eq!(out.len(), 2);
    assert!(matches!(&out[0], Ok((f, m)) if *f == tcp() && m.method() == Some(&Method::Ack)));
    assert!(matches!(&out[1], Err(Event::Answered { dialog: d, .. }) if *d == dialog));
    ep.hangup(t0 + Duration::from_secs(21), dialog).unwrap();
    let out = drain_flows(&mut ep);
    let Ok((flow, bye)) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(*flow, tcp());
    assert_eq!(bye.top_via().unwrap().transport, "TCP");
    ep.handle_timeout(t0 + Duration::from_secs(22));
    assert!(
        drain_flows(&mut ep).is_empty(),
        "no BYE retransmission on TCP"
    );
    ep.handle_input(t0, tcp(), response(bye, 200, None, "", "").as_bytes());
    run_out(&mut ep, t0);
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));

    // A TCP busy: ACKed and done at once (no Timer D).
    let dialog = ep.call(t0, outgoing(tcp())).unwrap();
    let out = drain_flows(&mut ep);
    let Ok((_, inv)) = &out[0] else { panic!() };
    ep.handle_input(t0, tcp(), response(inv, 603, Some("x"), "", "").as_bytes());
    let out = drain_flows(&mut ep);
    assert!(matches!(&out[0], Ok((f, m)) if *f == tcp() && m.method() == Some(&Method::Ack)));
    assert!(
        matches!(&out[1], Err(Event::CallFailed { dialog: d, status: 603, .. }) if *d == dialog)
    );
    assert_eq!(ep.transaction_count(), 0);
}

#[test]
fn early_media_progress_carries_the_sdp() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.handle_input(
        t0,
        udp(),
        response(&inv, 183, Some("agent-tag"), "", "v=0 early\r\n").as_bytes(),
    );
    assert_eq!(
        drain(&mut ep).1,
        vec![Event::Progress {
            dialog,
            status: 183,
            body: Some(b"v=0 early\r\n".to_vec())
        }]
    );
}

#[test]
fn transport_failure_ends_the_attempt_with_503() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (d1, _) = place(&mut ep, t0, udp());
    let (d2, _) = place(&mut ep, t0, tcp());
    assert_eq!(ep.transport_failed(t0, tcp()), 1);
    assert_eq!(
        drain(&mut ep).1,
        vec![Event::CallFailed {
            dialog: d2,
            status: 503,
            reason: "Service Unavailable".into()
        }]
    );
    ep.call_unreachable(t0, d1).unwrap();
    assert_eq!(
        drain(&mut ep).1,
        vec![Event::CallFailed {
            dialog: d1,
            status: 503,
            reason: "Service Unavailable".into()
        }]
    );
    assert_eq!(ep.call_unreachable(t0, d1), Err(SipError::UnknownCall));
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
    // Stale timers of the dropped transactions do nothing.
    ep.handle_timeout(t0 + Duration::from_secs(60));
    assert_quiet(&mut ep, "");
}

#[test]
fn bad_calls_are_refused_before_anything_is_sent() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut bad = Vec::new();
    let mut c = outgoing(udp());
    c.extra_headers = vec![("X-Evil".into(), "a\r\nBYE: x".into())];
    bad.push(c);
    let mut c = outgoing(udp());
    c.extra_headers = vec![("Call-ID".into(), "mine".into())];
    bad.push(c);
    let mut c = outgoing(udp());
    c.request_uri = "http://x".into();
    bad.push(c);
    let mut c = outgoing(udp());
    c.to_uri = "sip:a@b>;x".into();
    bad.push(c);
    let mut c = outgoing(udp());
    c.from_user = "1 2".into();
    bad.push(c);
    let mut c = outgoing(udp());
    c.from_display = Some("x\r\ny".into());
    bad.push(c);
    let mut c = outgoing(udp());
    c.sdp.clear();
    bad.push(c);
    for c in bad {
        assert!(
            matches!(ep.call(t0, c.clone()), Err(SipError::Malformed(_))),
            "{c:?}"
        );
    }
    assert_quiet(&mut ep, "");
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
}

#[test]
fn malformed_or_foreign_responses_are_dropped() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (_, inv) = place(&mut ep, t0, udp());
    let ok = response(&inv, 200, Some("agent-tag"), OK_EXTRA, "v=0\r\n");
    let no_via: String = ok
        .lines()
        .filter(|l| !l.starts_with("Via"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let branch = inv.top_via().unwrap().branch.unwrap();
    let inputs = vec![
        no_via,
        ok.replace(&branch, "z9hG4bK-other"),
        ok.replace(inv.call_id().unwrap(), "someone-else"),
        ok.replace("CSeq: 1 INVITE", "CSeq: 9 INVITE"),
        ok.replace(";tag=agent-tag", ""),
        ok.replace("SIP/2.0 200 OK", "SIP/2.0 999 Odd"),
        ok.replace("SIP/2.0 200 OK", "SIP/2.0 2000 OK"),
        ok.replace("Content-Length: 5", "Content-Length: 500"),
        "SIP/2.0 200 OK\r\n\r\n".to_string(),
        "SIP/2.0\r\n\r\n".to_string(),
        "\u{0}\u{1}garbage".to_string(),
        String::new(),
    ];
    for raw in &inputs {
        ep.handle_input(t0, udp(), raw.as_bytes());
        assert_quiet(&mut ep, "for {raw:?}");
    }
    // The call is still ringing and answerable.
    ep.handle_input(t0, udp(), ok.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert!(matches!(events[..], [Event::Answered { .. }]));
}

#[test]
fn agent_reinvite_for_hold_and_info_digits_work_on_outgoing_calls() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv, _) = answered(&mut ep, t0);
    let sdp = "v=0\r\na=sendonly\r\n";
    let reinvite = from_agent(
        &inv,
        "INVITE",
        2,
        "z9hG4bK-hold",
        &format!(
            "Contact: <sip:agent1@10.0.0.9:5071>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    );
    ep.handle_input(t0, udp(), reinvite.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].status(), Some(100));
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
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].to_tag(), inv.from_tag(), "our tag in To");
    let ack = from_agent(&inv, "ACK", 2, "z9hG4bK-hack", "Content-Length: 0\r\n\r\n");
    ep.handle_input(t0, udp(), ack.as_bytes());
    assert_quiet(&mut ep, "");
    let body = "Signal=5\r\nDuration=160\r\n";
    let info = from_agent(
        &inv,
        "INFO",
        3,
        "z9hG4bK-info",
        &format!(
            "Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    ep.handle_input(t0, udp(), info.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(events, vec![Event::InfoDigit { dialog, digit: '5' }]);
    // Our BYE goes to the new Contact with the next CSeq.
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].request_uri(), Some("sip:agent1@10.0.0.9:5071"));
    assert_eq!(sent[0].header("CSeq"), Some("2 BYE"));
}

fn refer(inv: &Message, cseq: u32, branch: &str, refer_to: &[&str]) -> String {
    let mut extra = String::new();
    for r in refer_to {
        extra.push_str(&format!("Refer-To: {r}\r\n"));
    }
    extra
        .push_str("Referred-By: \"Agent 1\" <sip:agent1@ura.example>\r\nContent-Length: 0\r\n\r\n");
    from_agent(inv, "REFER", cseq, branch, &extra)
}

#[test]
fn refer_is_accepted_and_reported_with_notify() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv, _) = answered(&mut ep, t0);
    assert_eq!(
        ep.notify_refer(t0, dialog, 200, "OK", true),
        Err(SipError::WrongState("notify_refer"))
    );
    let raw = refer(
        &inv,
        1,
        "z9hG4bK-ref",
        &["<sip:2001@ura.example;user=phone>"],
    );
    ep.handle_input(t0, udp(), raw.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Refer {
            dialog,
            target_uri: "sip:2001@ura.example;user=phone".into(),
            target_user: Some("2001".into()),
            referred_by: Some("sip:agent1@ura.example".into()),
        }]
    );
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].status(), Some(202));
    assert_eq!(reason(&sent[0]), "Accepted");
    let notify = &sent[1];
    assert_eq!(notify.method(), Some(&Method::from_token("NOTIFY")));
    assert_eq!(notify.request_uri(), Some("sip:agent1@10.0.0.9:5070;ob"));
    assert_eq!(notify.header("CSeq"), Some("2 NOTIFY"));
    assert_eq!(notify.header("Event"), Some("refer"));
    assert_eq!(
        notify.header("Subscription-State"),
        Some("active;expires=60")
    );
    assert_eq!(
        notify.header("Content-Type"),
        Some("message/sipfrag;version=2.0")
    );
    assert_eq!(notify.body, b"SIP/2.0 100 Trying\r\n");
    assert_eq!(notify.headers_named("Route").count(), 2);
    assert!(notify.header("Contact").is_some());
    ep.handle_input(t0, udp(), response(notify, 200, None, "", "").as_bytes());
    assert_quiet(&mut ep, "");
    // The transfer went through.
    ep.notify_refer(t0, dialog, 200, "OK", true).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].header("CSeq"), Some("3 NOTIFY"));
    assert_eq!(
        sent[0].header("Subscription-State"),
        Some("terminated;reason=noresource")
    );
    assert_eq!(sent[0].body, b"SIP/2.0 200 OK\r\n");
    ep.handle_input(t0, udp(), response(&sent[0], 200, None, "", "").as_bytes());
    assert_eq!(
        ep.notify_refer(t0, dialog, 200, "OK", true),
        Err(SipError::WrongState("notify_refer")),
        "the subscription is over"
    );
    // The REFER retransmitted: the same 202, no second event.
    ep.handle_input(t0, udp(), raw.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        sent.iter().filter_map(Message::status).collect::<Vec<_>>(),
        vec![202]
    );
    assert!(events.is_empty());
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].header("CSeq"), Some("4 BYE"));
    ep.handle_input(t0, udp(), response(&sent[0], 200, None, "", "").as_bytes());
    run_out(&mut ep, t0);
    assert_eq!((ep.dialog_count(), ep.transaction_count()), (0, 0));
    assert_eq!(
        ep.notify_refer(t0, dialog, 200, "OK", true),
        Err(SipError::UnknownCall)
    );
}

#[test]
fn bad_refers_are_refused() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (_, inv, _) = answered(&mut ep, t0);
    let cases: [(&[&str], u16); 6] = [
        (&[], 400),
        (&["<sip:a@h>", "<sip:b@h>"], 400),
        (&["<sip:a@h>, <sip:b@h>"], 400),
        (&["<sip:a@h?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>"], 501),
        (&["<http://example.com>"], 416),
        (&["<sip:>"], 416),
    ];
    for (i, (refer_to, code)) in cases.iter().enumerate() {
        let raw = refer(&inv, i as u32 + 1, &format!("z9hG4bK-r{i}"), refer_to);
        ep.handle_input(t0, udp(), raw.as_bytes());
        let (sent, events) = drain(&mut ep);
        assert!(events.is_empty(), "{refer_to:?}");
        assert_eq!(
            sent.iter().filter_map(Message::status).collect::<Vec<_>>(),
            vec![*code],
            "{refer_to:?}"
        );
        assert_eq!(sent.len(), 1, "no NOTIFY for a refused REFER");
    }
    // A bare URI works, and so do other embedded headers (dropped).
    let raw = refer(&inv, 10, "z9hG4bK-ok", &["sip:2002@h"]);
    ep.handle_input(t0, udp(), raw.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::Refer { target_uri, .. }] if target_uri == "sip:2002@h"));
    let raw = refer(&inv, 11, "z9hG4bK-ok2", &["<sip:2003@h?Subject=x>"]);
    ep.handle_input(t0, udp(), raw.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::Refer { target_uri, .. }] if target_uri == "sip:2003@h"));
}

#[test]
fn refer_works_on_inbound_calls_too() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let caller = Flow::udp("127.0.0.1:5062".parse().unwrap());
    let invite = "INVITE sip:9000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-in;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=alice1\r\nTo: <sip:9000@127.0.0.1>\r\n\
Call-ID: in-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5062>\r\n\
Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n";
    ep.handle_input(t0, caller, invite.as_bytes());
    let (_, events) = drain(&mut ep);
    let Event::IncomingCall(call) = &events[0] else {
        panic!("{events:?}")
    };
    let dialog = call.dialog;
    ep.answer(t0, dialog, b"v=0\r\n").unwrap();
    let (sent, _) = drain(&mut ep);
    let tag = sent[0].to_tag().unwrap().to_string();
    let in_dialog = |method: &str, cseq: u32, extra: &str| {
        format!(
            "{method} sip:ura@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-{method}{cseq};rport\r\nMax-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=alice1\r\nTo: <sip:9000@127.0.0.1>;tag={tag}\r\n\
Call-ID: in-1\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        )
    };
    // Before the ACK the dialog is not confirmed: 403.
    ep.handle_input(
        t0,
        caller,
        in_dialog("REFER", 2, "Refer-To: <sip:7@h>\r\n").as_bytes(),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].status(), Some(403));
    assert!(events.is_empty());
    ep.handle_input(t0, caller, in_dialog("ACK", 1, "").as_bytes());
    let _ = drain(&mut ep);
    ep.handle_input(
        t0,
        caller,
        in_dialog("REFER", 3, "Refer-To: <tel:+551130000000>\r\n").as_bytes(),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].status(), Some(202));
    assert_eq!(sent[1].request_uri(), Some("sip:alice@127.0.0.1:5062"));
    assert_eq!(sent[1].to_tag(), Some("alice1"));
    assert_eq!(sent[1].from_tag(), Some(tag.as_str()));
    assert_eq!(
        events,
        vec![Event::Refer {
            dialog,
            target_uri: "tel:+551130000000".into(),
            target_user: Some("+551130000000".into()),
            referred_by: None,
        }]
    );
    ep.notify_refer(t0, dialog, 503, "Service Unavailable", true)
        .unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].body, b"SIP/2.0 503 Service Unavailable\r\n");
}

#[test]
fn ringing_past_timer_b_is_cancelled_and_fails_with_408() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.handle_input(
        t0,
        udp(),
        response(&inv, 180, Some("agent-tag"), "", "").as_bytes(),
    );
    let _ = drain(&mut ep);
    ep.handle_timeout(t0 + T1 * 63);
    assert_quiet(&mut ep, "no retransmission while ringing");
    ep.handle_timeout(t0 + T1 * 64);
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Cancel));
    assert_eq!(sent[0].top_via(), inv.top_via());
    assert_eq!(
        events,
        vec![Event::CallFailed {
            dialog,
            status: 408,
            reason: "Request Timeout".into()
        }]
    );
    assert_eq!(ep.dialog_count(), 0);
    ep.handle_input(
        t0 + T1 * 64,
        udp(),
        response(&sent[0], 200, None, "", "").as_bytes(),
    );
    run_out(&mut ep, t0 + T1 * 64);
    assert_eq!(ep.transaction_count(), 0);
}

#[test]
fn a_cancelled_call_always_ends_as_local_hangup() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    // Hung up before anything came back, then answered at once: no CANCEL
    // ever goes out; the 2xx is ACKed and BYE'd.
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.hangup(t0, dialog).unwrap();
    let ok = response(&inv, 200, Some("agent-tag"), OK_EXTRA, "v=0\r\n");
    ep.handle_input(t0, udp(), ok.as_bytes());
    let (sent, events) = drain(&mut ep);
    let methods: Vec<_> = sent.iter().filter_map(|m| m.method().cloned()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    // Cancelled, but the agent's phone answers 486 instead of 487.
    let (dialog, inv) = place(&mut ep, t0, udp());
    ep.handle_input(t0, udp(), response(&inv, 180, Some("t"), "", "").as_bytes());
    let _ = drain(&mut ep);
    ep.hangup(t0, dialog).unwrap();
    let _ = drain(&mut ep);
    ep.handle_input(t0, udp(), response(&inv, 486, Some("t"), "", "").as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert_eq!(
        events,
        vec![Event::Ended {
            dialog,
            reason: EndReason::LocalHangup
        }]
    );
    assert_eq!(ep.hangup(t0, dialog), Err(SipError::UnknownCall));
}

#[test]
fn truncated_and_mangled_input_never_panics() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (_, inv, _) = answered(&mut ep, t0);
    let (_, inv2) = place(&mut ep, t0, udp());
    let ok = response(&inv2, 200, Some("x"), OK_EXTRA, "v=0\r\n");
    let ringing = response(&inv2, 180, Some("x"), "", "");
    for raw in [&ok, &ringing] {
        for cut in 0..raw.len() {
            ep.handle_input(t0, udp(), &raw.as_bytes()[..cut]);
        }
        for i in 0..raw.len() {
            let mut b = raw.clone().into_bytes();
            b[i] = b"\0:;<>,\" \r\n"[i % 10];
            ep.handle_input(t0, udp(), &b);
        }
    }
    // Mangled 2xx with other To tags were ACKed and BYE'd as forks.
    let _ = drain(&mut ep);
    for (i, refer_to) in [
        "<>",
        "<",
        ">",
        "sip:",
        "<sip:a@h",
        "sip:a@h>",
        ">sip:a@h<",
        "\"x\" <sip:a@h?>",
        "<sip:a@h?Replaces>",
        "<tel:>",
        ",",
        "<sip:a@h>;x=\"a,b\"",
    ]
    .iter()
    .enumerate()
    {
        let raw = refer(&inv, 5 + i as u32, &format!("z9hG4bK-m{i}"), &[refer_to]);
        ep.handle_input(t0, udp(), raw.as_bytes());
        let (sent, _) = drain(&mut ep);
        let code = sent.first().and_then(Message::status);
        assert!(
            matches!(code, Some(202 | 400 | 416 | 501)),
            "{refer_to}: {code:?}"
        );
    }
    let _ = drain(&mut ep);
    run_out(&mut ep, t0);
    let _ = drain(&mut ep);
}

/// Found by the `endpoint` fuzz target: a 2xx whose Contact held a control
/// character made that Contact the Request-URI of our ACK (and BYE), a
/// message ura itself refuses to read. Such a Contact is not taken: the
/// dialog's requests go to the INVITE's Request-URI.
#[test]
fn a_2xx_contact_ura_cannot_send_to_is_not_the_remote_target() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (dialog, inv) = place(&mut ep, t0, udp());
    let extra = "Contact: <sip:agent\u{1}1@10.0.0.9:5070>\r\n";
    let ok = response(&inv, 200, Some("agent-tag"), extra, "v=0 answer\r\n");
    ep.handle_input(t0, udp(), ok.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert_eq!(
        sent[0].request_uri(),
        Some("sip:agent1@10.0.0.9:5070;transport=udp")
    );
    ep.hangup(t0, dialog).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].method(), Some(&Method::Bye));
    assert_eq!(
        sent[0].request_uri(),
        Some("sip:agent1@10.0.0.9:5070;transport=udp")
    );
}
