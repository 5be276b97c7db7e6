//! The SIP `Endpoint`, stateful: one endpoint per input, fed a sequence of
//! datagrams and TCP messages from a few peers, on a simulated clock,
//! with an application that answers, rings, refuses, hangs up, accepts
//! re-offers and transfers and places outgoing calls as the input says.
//!
//! Input: records separated by four zero bytes. A record's first byte is
//! its control (bits 0-1 the peer, 2-4 how far the clock moves first,
//! 5-7 what the application does with the events it causes); the rest
//! is the message, where `$TAG`, `$BR` and `$CID` are replaced by the
//! local tag, the Via branch and the Call-ID of the last message ura sent,
//! so that in-dialog requests and responses to ura's requests can match.
//!
//! Checked: no panic; every message ura sends parses; and once the
//! application has hung up every call and the clock has run an hour on
//! (every timer fired), no dialog and no transaction is left.
#![no_main]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ura_sip::transport::ConnectionId;
use ura_sip::{
    DialogId, Endpoint, EndpointConfig, Event, Flow, Message, OutgoingCall, Output, TimerConfig,
    Transport,
};

const SEP: &[u8] = b"\0\0\0\0";
const MAX_RECORDS: usize = 64;
const SDP: &[u8] = b"v=0\r\no=ura 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
/// Clock steps a record can ask for, in milliseconds.
const STEPS: [u64; 8] = [0, 10, 100, 500, 2_000, 5_000, 33_000, 70_000];

/// What the application does with the events of one record.
#[derive(Clone, Copy, PartialEq)]
enum Policy {
    Answer,
    Ring,
    Reject,
    Leave,
    HangUp,
    AcceptReoffer,
    Call,
    Notify,
}

const POLICIES: [Policy; 8] = [
    Policy::Answer,
    Policy::Ring,
    Policy::Reject,
    Policy::Leave,
    Policy::HangUp,
    Policy::AcceptReoffer,
    Policy::Call,
    Policy::Notify,
];

struct Harness {
    ep: Endpoint,
    now: Instant,
    live: BTreeSet<DialogId>,
    tag: String,
    branch: String,
    call_id: String,
}

fn flows() -> [Flow; 4] {
    let a: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let b: SocketAddr = "[2001:db8::10]:5062".parse().unwrap();
    let c: SocketAddr = "192.0.2.11:40000".parse().unwrap();
    let d: SocketAddr = "192.0.2.10:5062".parse().unwrap();
    [
        Flow::udp(a),
        Flow::udp(b),
        Flow {
            transport: Transport::Tcp,
            remote: c,
            connection: Some(ConnectionId(1)),
        },
        Flow::udp(d),
    ]
}

impl Harness {
    fn new() -> Harness {
        let mut ep = Endpoint::new(
            EndpointConfig {
                timers: TimerConfig::default(),
                user_agent: "ura-fuzz".into(),
                advertised: "192.0.2.1".parse().unwrap(),
                advertised_other: Some("2001:db8::1".parse().unwrap()),
                port: 5060,
            },
            7,
        );
        ep.set_users([("2001", "secret")]);
        Harness {
            ep,
            now: Instant::now(),
            live: BTreeSet::new(),
            tag: String::new(),
            branch: String::new(),
            call_id: String::new(),
        }
    }

    /// Drains the endpoint's outputs, acting on the events by `policy`.
    fn drain(&mut self, policy: Policy) {
        // Answering an event may cause more output: loop until quiet.
        while let Some(o) = self.ep.poll_output() {
            match o {
                Output::Transmit(t) => self.sent(&t.data),
                Output::Event(e) => self.on_event(e, policy),
            }
        }
    }

    fn sent(&mut self, data: &[u8]) {
        let m = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => panic!(
                "ura sent a message it cannot parse ({e}): {:?}",
                String::from_utf8_lossy(data)
            ),
        };
        if m.is_request() {
            if let Some(b) = m.top_via().and_then(|v| v.branch) {
                self.branch = b;
            }
            if let Some(c) = m.call_id() {
                self.call_id = c.to_string();
            }
            if let Some(t) = m.from_tag() {
                self.tag = t.to_string();
            }
        } else if let Some(t) = m.to_tag() {
            self.tag = t.to_string();
        }
    }

    fn on_event(&mut self, e: Event, policy: Policy) {
        let now = self.now;
        match e {
            Event::IncomingCall(call) => {
                self.live.insert(call.dialog);
                let _ = match policy {
                    Policy::Answer | Policy::AcceptReoffer | Policy::Notify => {
                        self.ep.answer(now, call.dialog, SDP)
                    }
                    Policy::Ring => self.ep.ring(now, call.dialog),
                    Policy::Reject => self.ep.reject(now, call.dialog, 486),
                    Policy::HangUp => self.ep.hangup(now, call.dialog),
                    Policy::Leave | Policy::Call => Ok(()),
                };
            }
            Event::ReOffer { dialog, .. } => {
                let _ = match policy {
                    Policy::AcceptReoffer | Policy::Answer => {
                        self.ep.accept_reoffer(now, dialog, SDP)
                    }
                    Policy::Reject => self.ep.reject_reoffer(now, dialog, 488),
                    _ => Ok(()),
                };
            }
            Event::Refer { dialog, .. } => {
                if policy == Policy::Notify {
                    let _ = self.ep.notify_refer(now, dialog, 200, "OK", true);
                }
            }
            Event::Answered { dialog, .. } | Event::Progress { dialog, .. } => {
                self.live.insert(dialog);
                if policy == Policy::HangUp {
                    let _ = self.ep.hangup(now, dialog);
                }
            }
            Event::Ended { dialog, .. } | Event::CallFailed { dialog, .. } => {
                self.live.remove(&dialog);
            }
            Event::Confirmed { dialog, .. } | Event::InfoDigit { dialog, .. } => {
                if policy == Policy::HangUp {
                    let _ = self.ep.hangup(now, dialog);
                }
            }
            Event::AuthLockout { .. } | Event::Registered { .. } | Event::Unregistered { .. } => {}
        }
    }

    /// Runs every timer due up to `until`, moving the clock with them.
    fn run_timers(&mut self, until: Instant, policy: Policy) {
        for _ in 0..100_000 {
            match self.ep.poll_timeout() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.ep.handle_timeout(self.now);
                    self.drain(policy);
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("the timers never settle");
    }

    fn record(&mut self, record: &[u8]) {
        let Some((&control, body)) = record.split_first() else {
            return;
        };
        let flow = flows()[usize::from(control & 3)];
        let step = Duration::from_millis(STEPS[usize::from((control >> 2) & 7)]);
        let policy = POLICIES[usize::from(control >> 5)];
        let until = self.now + step;
        self.run_timers(until, policy);
        if policy == Policy::Call {
            let call = OutgoingCall {
                target: flow,
                request_uri: "sip:2001@192.0.2.10:5060".into(),
                from_display: Some("Caller".into()),
                from_user: "5511".into(),
                to_uri: "sip:2001@ura".into(),
                extra_headers: vec![("X-Ura-Queue".into(), "vendas".into())],
                sdp: SDP.to_vec(),
            };
            if let Ok(d) = self.ep.call(self.now, call) {
                self.live.insert(d);
            }
            self.drain(policy);
        }
        if !body.is_empty() {
            let data = self.substitute(body);
            self.ep.handle_input(self.now, flow, &data);
            self.drain(policy);
        }
    }

    fn substitute(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 32);
        let mut i = 0;
        while i < body.len() {
            let rest = &body[i..];
            let (hit, len) = if rest.starts_with(b"$TAG") {
                (Some(self.tag.as_bytes()), 4)
            } else if rest.starts_with(b"$BR") {
                (Some(self.branch.as_bytes()), 3)
            } else if rest.starts_with(b"$CID") {
                (Some(self.call_id.as_bytes()), 4)
            } else {
                (None, 1)
            };
            match hit {
                Some(s) => out.extend_from_slice(s),
                None => out.push(body[i]),
            }
            i += len;
        }
        out
    }

    /// Hangs up every call, runs the clock an hour on, and checks that
    /// nothing is left.
    fn finish(&mut self) {
        let live: Vec<DialogId> = self.live.iter().copied().collect();
        for d in live {
            let _ = self.ep.hangup(self.now, d);
            self.drain(Policy::Leave);
        }
        let until = self.now + Duration::from_secs(3600);
        self.run_timers(until, Policy::Leave);
        assert_eq!(
            (self.ep.dialog_count(), self.ep.transaction_count()),
            (0, 0),
            "dialogs and transactions left after every call was hung up and every timer ran \
             (calls the application still knows: {:?}); the endpoint: {:#?}",
            self.live,
            self.ep
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut h = Harness::new();
    for record in split(data).take(MAX_RECORDS) {
        h.record(record);
    }
    h.finish();
});

/// The records of an input.
fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                rest = Some(&r[i + SEP.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}
