//! `sip::Message::parse` (the normalising pass, then rsip) on any bytes,
//! and every accessor the endpoint reads on what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_sip::message::{self, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else {
        return;
    };
    let _ = (m.is_request(), m.method(), m.status(), m.call_id());
    let _ = (m.cseq(), m.top_via(), m.from_tag(), m.to_tag());
    let _ = (m.max_forwards(), m.content_type());
    if m.is_request() {
        let _ = m.validate_request();
    }
    if let Some(uri) = m.request_uri() {
        let _ = (message::uri_scheme(uri), message::uri_user(uri));
        let _ = message::uri_host_port(uri);
    }
    for name in ["Via", "From", "To", "Contact", "Route", "Record-Route"] {
        for value in m.headers_named(name) {
            for part in message::split_commas(value) {
                let _ = message::parse_via(part);
                let uri = message::name_addr_uri(part);
                let _ = (message::uri_user(uri), message::uri_host_port(uri));
                let _ = message::param(part, "tag");
            }
        }
    }
});
