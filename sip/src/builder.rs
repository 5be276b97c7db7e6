//! Writing SIP messages: responses to requests, and requests inside a dialog.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::message::{parse_via, Message};
use crate::transport::Flow;

/// The methods ura handles, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER";

/// The usual reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// A response under construction.
#[derive(Debug, Clone)]
pub struct ResponseSpec<'a> {
    /// Status code.
    pub code: u16,
    /// Reason phrase (defaults to the usual one).
    pub reason: Option<&'a str>,
    /// To tag to add when the request's To has none.
    pub to_tag: Option<&'a str>,
    /// Extra headers, written as given.
    pub headers: Vec<(&'a str, String)>,
    /// Body with its Content-Type.
    pub body: Option<(&'a str, &'a [u8])>,
    /// Copy Record-Route (2xx/18x to a dialog-creating request).
    pub record_route: bool,
}

impl<'a> ResponseSpec<'a> {
    /// A response with just a status code.
    pub fn new(code: u16) -> Self {
        ResponseSpec {
            code,
            reason: None,
            to_tag: None,
            headers: Vec::new(),
            body: None,
            record_route: false,
        }
    }
}

/// Writes the response to `req` received on `source` (RFC 3261 §8.2.6, with
/// `received`/`rport` per RFC 3581 on the top Via).
pub fn response(
    req: &Message,
    source: &Flow,
    spec: &ResponseSpec<'_>,
    user_agent: &str,
) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    let reason = spec.reason.unwrap_or_else(|| reason_phrase(spec.code));
    let _ = write!(s, "SIP/2.0 {} {}\r\n", spec.code, reason);
    let mut first = true;
    for via in req.headers_named("Via") {
        if first {
            first = false;
            let _ = write!(s, "Via: {}\r\n", top_via_with_received(via, source.remote));
        } else {
            let _ = write!(s, "Via: {via}\r\n");
        }
    }
    if spec.record_route {
        for rr in req.headers_named("Record-Route") {
            let _ = write!(s, "Record-Route: {rr}\r\n");
        }
    }
    if let Some(from) = req.header("From") {
        let _ = write!(s, "From: {from}\r\n");
    }
    if let Some(to) = req.header("To") {
        match (spec.to_tag, req.to_tag()) {
            (Some(tag), None) if spec.code > 100 => {
                let _ = write!(s, "To: {to};tag={tag}\r\n");
            }
            _ => {
                let _ = write!(s, "To: {to}\r\n");
            }
        }
    }
    if let Some(cid) = req.call_id() {
        let _ = write!(s, "Call-ID: {cid}\r\n");
    }
    if let Some(cseq) = req.header("CSeq") {
        let _ = write!(s, "CSeq: {cseq}\r\n");
    }
    for (name, value) in &spec.headers {
        let _ = write!(s, "{name}: {value}\r\n");
    }
    let _ = write!(s, "Server: {user_agent}\r\n");
    finish(s, spec.body)
}

fn finish(mut s: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
    match body {
        Some((ctype, body)) => {
            let _ = write!(
                s,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let mut out = s.into_bytes();
            out.extend_from_slice(body);
            out
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            s.into_bytes()
        }
    }
}

/// Adds `received` (and fills `rport`) on the top Via (RFC 3581 §4).
fn top_via_with_received(via: &str, source: SocketAddr) -> String {
    let Some(parsed) = parse_via(via) else {
        return via.to_string();
    };
    let ip = source.ip().to_string();
    let mut out = String::with_capacity(via.len() + 40);
    for (i, part) in via.split(';').enumerate() {
        let key = part.split('=').next().unwrap_or("").trim();
        if i > 0 && (key.eq_ignore_ascii_case("rport") || key.eq_ignore_ascii_case("received")) {
            continue;
        }
        if i > 0 {
            out.push(';');
        }
        out.push_str(part);
    }
    // Compared as addresses: `::1` and `0:0:0:0:0:0:0:1` are one host.
    let same_host = parsed.host.parse::<std::net::IpAddr>().ok() == Some(source.ip());
    if parsed.rport || !same_host {
        let _ = write!(out, ";received={ip}");
    }
    if parsed.rport {
        let _ = write!(out, ";rport={}", source.port());
    }
    out
}

/// Where a response to a request from `source` goes (RFC 3261 §18.2.2, RFC 3581).
pub fn response_flow(req: &Message, source: &Flow) -> Flow {
    if source.transport.is_reliable() {
        return *source;
    }
    match req.top_via() {
        // Without rport, to the source address at the port in Via.
        Some(via) if !via.rport => Flow {
            remote: SocketAddr::new(source.remote.ip(), via.port.unwrap_or(5060)),
            ..*source
        },
        _ => *source,
    }
}

/// What a request inside a dialog needs.
#[derive(Debug, Clone)]
pub struct InDialogRequest<'a> {
    /// Method token.
    pub method: &'a str,
    /// Request-URI: the remote target.
    pub uri: &'a str,
    /// Route set, in order.
    pub route: &'a [String],
    /// Our URI with our tag (From).
    pub from: &'a str,
    /// Their URI with their tag (To).
    pub to: &'a str,
    /// Call-ID.
    pub call_id: &'a str,
    /// CSeq number.
    pub cseq: u32,
    /// Via sent-by (host:port) and transport.
    pub via_sent_by: &'a str,
    /// Transport token for Via.
    pub transport: &'a str,
    /// The branch (with magic cookie).
    pub branch: &'a str,
    /// Contact to send, if any.
    pub contact: Option<&'a str>,
    /// Body with its Content-Type.
    pub body: Option<(&'a str, &'a [u8])>,
}

/// Writes a request inside a dialog (RFC 3261 §12.2.1.1).
pub fn request(r: &InDialogRequest<'_>, user_agent: &str) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    let _ = write!(s, "{} {} SIP/2.0\r\n", r.method, r.uri);
    let _ = write!(
        s,
        "Via: SIP/2.0/{} {};branch={};rport\r\nMax-Forwards: 70\r\n",
        r.transport, r.via_sent_by, r.branch
    );
    for route in r.route {
        let _ = write!(s, "Route: {route}\r\n");
    }
    let _ = write!(
        s,
        "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
        r.from, r.to, r.call_id, r.cseq, r.method
    );
    if let Some(c) = r.contact {
        let _ = write!(s, "Contact: {c}\r\n");
    }
    let _ = write!(s, "User-Agent: {user_agent}\r\n");
    finish(s, r.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn req(via: &str) -> Message {
        let raw = format!(
            "OPTIONS sip:x@h SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCall-ID: c1\r\nCSeq: 7 OPTIONS\r\n\r\n"
        );
        Message::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn rport_and_received_are_filled() {
        let m = req("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport");
        let src = Flow::udp("192.0.2.7:40000".parse().unwrap());
        let out = response(&m, &src, &ResponseSpec::new(200), "ura");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(text.contains(
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;received=192.0.2.7;rport=40000\r\n"
        ));
        assert!(text.contains("Via: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n"));
        assert_eq!(
            response_flow(&m, &src),
            src,
            "rport: back to the source port"
        );
        let parsed = Message::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.status(), Some(200));
        assert_eq!(parsed.cseq().unwrap().0, 7);
    }

    #[test]
    fn without_rport_responses_go_to_the_via_port() {
        let m = req("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKx");
        let src = Flow::udp("10.0.0.1:40000".parse().unwrap());
        assert_eq!(
            response_flow(&m, &src).remote,
            "10.0.0.1:5070".parse::<SocketAddr>().unwrap()
        );
        let text = String::from_utf8(response(&m, &src, &ResponseSpec::new(200), "ura")).unwrap();
        assert!(!text.contains("received="), "same host: no received");
        let tcp = Flow {
            transport: Transport::Tcp,
            ..src
        };
        assert_eq!(response_flow(&m, &tcp), tcp);
    }

    #[test]
    fn to_tag_is_added_once() {
        let m = req("SIP/2.0/UDP h;branch=z9hG4bKx");
        let src = Flow::udp("10.0.0.1:5060".parse().unwrap());
        let mut spec = ResponseSpec::new(100);
        spec.to_tag = Some("abc");
        let t100 = String::from_utf8(response(&m, &src, &spec, "ura")).unwrap();
        assert!(t100.contains("To: <sip:x@h>\r\n"), "no tag on 100");
        spec.code = 486;
        let t486 = String::from_utf8(response(&m, &src, &spec, "ura")).unwrap();
        assert!(t486.contains("To: <sip:x@h>;tag=abc\r\n"));
    }
}
