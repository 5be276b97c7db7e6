//! SDP: `SessionDescription::parse` on any bytes; an offer it accepts is
//! answered (`sdp::answer`), and the answer ura would send must itself
//! parse and be accepted by `accept_answer` as the offerer would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_sip::sdp::{self, Direction, LocalMedia, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let _ = offer.to_string();
    let local = LocalMedia::new("192.0.2.1".parse().unwrap(), 40000);
    if let Ok((answer, _negotiated)) = sdp::answer(&offer, &local) {
        let text = answer.to_string();
        let parsed = SessionDescription::parse(text.as_bytes());
        assert!(parsed.is_ok(), "our answer does not parse: {text:?}");
    }
    // The bytes as the answer to our own offer (an outgoing call).
    let ours = sdp::offer(&local, Direction::SendRecv);
    let _ = sdp::accept_answer(&ours, &offer);
});
