//! SIP hot paths: parsing a typical INVITE, and a whole call through the endpoint.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use ura_sip::{Endpoint, EndpointConfig, Flow, Message, Output, TimerConfig};

const INVITE: &str = "INVITE sip:9000@192.0.2.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.50:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:9000@192.0.2.1>\r\n\
From: \"Alice\" <sip:alice@192.0.2.50>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.50:5062>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, INFO\r\n\
User-Agent: softphone/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 226\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.50\r\n\
s=-\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n";

fn parse(c: &mut Criterion) {
    assert!(Message::parse(INVITE.as_bytes()).is_ok());
    c.bench_function("sip parse typical INVITE", |b| {
        b.iter(|| Message::parse(std::hint::black_box(INVITE.as_bytes())).unwrap())
    });
    let sdp = INVITE.split("\r\n\r\n").nth(1).unwrap();
    c.bench_function("sdp parse + answer", |b| {
        let local = ura_sip::sdp::LocalMedia::new("192.0.2.1".parse().unwrap(), 20000);
        b.iter(|| {
            let offer = ura_sip::sdp::SessionDescription::parse(std::hint::black_box(sdp)).unwrap();
            ura_sip::sdp::answer(&offer, &local).unwrap()
        })
    });
}

fn endpoint_invite(c: &mut Criterion) {
    let mut ep = Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-bench".into(),
            advertised: "192.0.2.1".parse().unwrap(),
            advertised_other: None,
            port: 5060,
        },
        1,
    );
    let flow = Flow::udp("192.0.2.50:5062".parse().unwrap());
    let mut n = 0u64;
    c.bench_function("endpoint INVITE -> 100 + answer 200", |b| {
        b.iter(|| {
            n += 1;
            let invite = INVITE
                .replace("z9hG4bK776asdhds", &format!("z9hG4bK{n}"))
                .replace("a84b4c76e66710", &format!("c{n}"));
            let now = Instant::now();
            ep.handle_input(now, flow, invite.as_bytes());
            let mut dialog = None;
            while let Some(o) = ep.poll_output() {
                if let Output::Event(ura_sip::Event::IncomingCall(call)) = o {
                    dialog = Some(call.dialog);
                }
            }
            let d = dialog.unwrap();
            ep.answer(now, d, b"v=0\r\n").unwrap();
            ep.hangup(now, d).unwrap();
            while ep.poll_output().is_some() {}
        })
    });
}

criterion_group!(benches, parse, endpoint_invite);
criterion_main!(benches);
