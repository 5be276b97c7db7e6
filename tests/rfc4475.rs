//! RFC 4475 §3 end to end: all 49 torture messages sent to a running
//! `ura serve`, over UDP and each on its own TCP connection, then a normal
//! call that must be answered and carry audio.
//!
//! Over TCP the answer comes back on the connection, so each final status
//! is checked against what the engine should say (the sans-I/O checks of
//! every field are in `sip/tests/rfc4475.rs`). Over UDP ura answers to the
//! address each message's Via names (documentation addresses, not ours),
//! so only ura's survival and the call afterwards are checked.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::caller::Caller;
use common::Ura;

/// Every message, with the final status ura gives it over TCP (None: no
/// answer). Unknown numbers are 404 from the engine's routing; the default
/// configuration has agents, so ura is a registrar and every REGISTER
/// without credentials is challenged (401) before anything is bound.
const EXPECTED: [(&str, Option<u16>); 49] = [
    // 3.1.1 valid
    ("wsinv", Some(481)), // To tag of a dialog ura does not have
    ("intmeth", Some(501)),
    ("esc01", Some(404)), // user "sips:user@example.com" is no number here
    ("escnull", Some(401)),
    ("esc02", Some(501)),
    ("lwsdisp", Some(200)),
    ("longreq", Some(404)),
    ("dblreq", Some(401)), // on TCP the tail is a second message, answered after
    ("semiuri", Some(200)),
    ("transports", Some(200)),
    ("mpart01", Some(405)),
    ("unreason", None),
    ("noreason", None),
    // 3.1.2 invalid
    ("badinv01", Some(400)),
    ("clerr", None),    // on TCP: waits for the rest of the body
    ("ncl", Some(400)), // then the connection is closed: framing is lost
    ("scalar02", Some(400)),
    ("scalarlg", None),
    ("quotbal", Some(400)),
    ("ltgtruri", Some(400)),
    ("lwsruri", Some(400)),
    ("lwsstart", Some(404)), // liberal: extra spaces ignored
    ("trws", Some(200)),
    ("escruri", Some(404)), // liberal: escaped headers ignored
    ("baddate", Some(404)),
    ("regbadct", Some(401)),
    ("badaspec", Some(200)),
    ("baddn", Some(200)),
    ("badvers", Some(505)),
    ("mismatch01", Some(400)),
    ("mismatch02", Some(501)),
    ("bigcode", None),
    // 3.2 transaction layer
    ("badbranch", Some(200)),
    // 3.3 application layer
    ("insuf", Some(400)),
    ("unkscm", Some(416)),
    ("novelsc", Some(416)),
    ("unksm2", Some(401)),
    ("bext01", Some(420)),
    ("invut", Some(415)),
    ("regaut01", Some(401)),
    ("multi01", Some(400)),
    ("mcl01", Some(400)),
    ("bcast", None),
    ("zeromf", Some(200)),
    ("cparam01", Some(401)),
    ("cparam02", Some(401)),
    ("regescrt", Some(401)),
    ("sdp01", Some(406)),
    // 3.4: no Content-Length is allowed on UDP only; on TCP it means no
    // body, and the INVITE is routed like any other.
    ("inv2543", Some(404)),
];

fn load(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/sip/tests/rfc4475/{name}.sip",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first final status in what was read.
fn first_final(data: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(data);
    text.split("SIP/2.0 ")
        .skip(1)
        .filter_map(|r| r.get(..3)?.parse::<u16>().ok())
        .find(|c| *c >= 200)
}

fn normal_call_with_audio(ura: &Ura) {
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("9000").status(), Some(200));
    caller.silence(5);
    std::thread::sleep(Duration::from_millis(1_000));
    let audio = caller.audio();
    assert!(audio.len() >= 25, "{} RTP packets in a second", audio.len());
    assert_eq!(caller.bye(), Some(200));
}

#[test]
fn torture_messages_over_tcp_get_the_rfc_answers() {
    let mut ura = Ura::start(&[]);
    let mut wrong = Vec::new();
    for (name, want) in EXPECTED {
        let mut s = TcpStream::connect(ura.sip).unwrap();
        // An expected answer may be slow on a loaded machine; silence is
        // judged after 400 ms.
        let wait = if want.is_some() { 3_000 } else { 400 };
        s.set_read_timeout(Some(Duration::from_millis(wait)))
            .unwrap();
        s.write_all(&load(name)).unwrap();
        let mut all = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if first_final(&all).is_some() {
                break;
            }
        }
        let got = first_final(&all);
        if got != want {
            wrong.push(format!("{name}: want {want:?}, got {got:?}"));
        }
        if name == "ncl" {
            // The stream cannot be framed past it: ura closes it.
            let closed = (0..10).any(|_| matches!(s.read(&mut buf), Ok(0)));
            assert!(closed, "ncl: the connection stays open");
        }
        assert!(ura.is_running(), "ura died on {name}");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    normal_call_with_audio(&ura);
}

#[test]
fn torture_messages_over_udp_then_a_normal_call() {
    let mut ura = Ura::start(&[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (name, _) in EXPECTED {
        sock.send_to(&load(name), ura.sip).unwrap();
    }
    // Give the core time to read them all before the call.
    std::thread::sleep(Duration::from_millis(300));
    assert!(ura.is_running(), "ura died");
    normal_call_with_audio(&ura);
    assert!(ura.is_running());
}
