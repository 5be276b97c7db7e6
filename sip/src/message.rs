//! SIP messages: parsing with rsip, plus the normalisation rsip needs first.
//!
//! rsip 0.4 tokenizes the start line, the headers and the body, and parses
//! URIs. It rejects several forms that real peers send and RFC 3261 allows, so
//! [`Message::parse`] rewrites the head before handing it over:
//!
//! - compact header names (`v:`, `i:`, `f:`, `t:`, `m:`, `l:`, `c:`, `k:` …) are
//!   expanded (rsip would keep them as unknown headers);
//! - folded header lines (a line starting with space or tab) are joined;
//! - white space between a header name and its colon is removed;
//! - bare LF line ends are accepted;
//! - comma-separated values of Via, Route and Record-Route are split so that
//!   each value is one header;
//! - request methods rsip does not know are kept as [`Method::Other`] (so we
//!   can answer 405/501 instead of dropping the request).

use std::fmt;

use crate::error::SipError;

/// Largest message we accept (a datagram or a framed TCP message).
pub const MAX_MESSAGE_SIZE: usize = 65_535;
/// Most headers one message may carry.
pub const MAX_HEADERS: usize = 256;

/// A SIP request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// INFO
    Info,
    /// REGISTER
    Register,
    /// Any other method, as written (upper case).
    Other(String),
}

impl Method {
    /// Parses a method token (case-sensitive per RFC 3261, but we accept any case).
    pub fn from_token(token: &str) -> Method {
        match token.to_ascii_uppercase().as_str() {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            other => Method::Other(other.to_string()),
        }
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a message.
#[derive(Debug, Clone)]
pub enum StartLine {
    /// `METHOD uri SIP/2.0`
    Request {
        /// The method.
        method: Method,
        /// The Request-URI as written.
        uri: String,
    },
    /// `SIP/2.0 code reason`
    Response {
        /// Status code (100-699).
        code: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// A parsed SIP message: start line, headers in order (one value each), body.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request or status line.
    pub start: StartLine,
    /// Headers in wire order, names in their full form.
    pub headers: HeaderList,
    /// The body (exactly Content-Length bytes).
    pub body: Vec<u8>,
}

/// The parts of a Via header value we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token (`UDP`, `TCP`, …), upper case.
    pub transport: String,
    /// sent-by host.
    pub host: String,
    /// sent-by port, if written.
    pub port: Option<u16>,
    /// `branch` parameter.
    pub branch: Option<String>,
    /// `rport` present (with or without value).
    pub rport: bool,
    /// `received` parameter.
    pub received: Option<String>,
}

/// Expands a compact header name (RFC 3261 §7.3.3 and later RFCs).
fn expand_compact(name: &str) -> Option<&'static str> {
    if name.len() != 1 {
        return None;
    }
    Some(match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'x' => "Session-Expires",
        b'u' => "Allow-Events",
        _ => return None,
    })
}

/// Splits a header value on commas that are outside quotes and angle brackets.
pub fn split_commas(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(value[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Where a message's head ends: index of the first body byte, and the length
/// of the head including the blank line.
pub fn head_end(data: &[u8]) -> Option<usize> {
    let crlf = find(data, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(data, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads the Content-Length of a head (full or compact name), if present.
///
/// `Err` when the value is not a number.
pub fn content_length(head: &[u8]) -> Result<Option<usize>, SipError> {
    let text = std::str::from_utf8(head).map_err(|_| SipError::Malformed("head is not UTF-8"))?;
    for line in text.split('\n').skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|_| SipError::Malformed("bad Content-Length"))?;
            return Ok(Some(n));
        }
    }
    Ok(None)
}

impl Message {
    /// Parses one whole message (a UDP datagram or one framed TCP message).
    ///
    /// The body is cut to Content-Length; a Content-Length larger than the
    /// bytes present is an error (RFC 3261 §18.3).
    pub fn parse(data: &[u8]) -> Result<Message, SipError> {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(SipError::Malformed("message too large"));
        }
        // Leading CRLFs are keep-alives or padding (RFC 3261 §7.5).
        let skip = data
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(data.len());
        let data = &data[skip..];
        if data.is_empty() {
            return Err(SipError::Malformed("empty message"));
        }
        let end = head_end(data).ok_or(SipError::Malformed("no end of headers"))?;
        let head = &data[..end];
        let rest = &data[end..];
        let body = match content_length(head)? {
            Some(n) if n > rest.len() => {
                return Err(SipError::Malformed("Content-Length larger than body"))
            }
            Some(n) => &rest[..n],
            None => rest,
        };
        let head =
            std::str::from_utf8(head).map_err(|_| SipError::Malformed("head is not UTF-8"))?;
        let (start_line, headers) = normalize_head(head)?;
        let start = parse_start_line(start_line)?;
        let msg = Message {
            start,
            headers,
            body: body.to_vec(),
        };
        msg.check_with_rsip()?;
        Ok(msg)
    }

    /// Runs the normalised message through rsip, so that what rsip cannot
    /// read (a bad URI, a bad version) is refused the same way everywhere.
    fn check_with_rsip(&self) -> Result<(), SipError> {
        let mut text = String::with_capacity(512);
        match &self.start {
            // rsip knows a fixed set of methods: check unknown ones as OPTIONS.
            // The Request-URI was checked by `request_uri_ok`; rsip refuses
            // valid ones (escaped `@` or `;` in the user part, unknown
            // schemes), so it sees a stand-in.
            StartLine::Request { method, .. } => {
                let m = match method {
                    Method::Other(_) => "OPTIONS",
                    m => m.as_str(),
                };
                text.push_str(m);
                text.push_str(" sip:check.invalid SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                text.push_str(&format!("SIP/2.0 {code} {reason}\r\n"));
            }
        }
        for (name, value) in &self.headers {
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        // rsip 0.4 cannot read `[v6]` hosts: it sees a valid literal as a name.
        let text = mask_ipv6_literals(&text);
        match rsip::SipMessage::try_from(text.as_bytes()) {
            Ok(rsip::SipMessage::Request(r)) => {
                // Requests must have a usable URI host.
                let _ = r.uri.host();
                Ok(())
            }
            Ok(rsip::SipMessage::Response(_)) => Ok(()),
            Err(_) => Err(SipError::Malformed("unparsable start line or header")),
        }
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method (None for responses).
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI (None for responses).
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code (None for requests).
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, Method)> {
        let v = self.header("CSeq")?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        let m = Method::from_token(it.next()?);
        Some((n, m))
    }

    /// The top Via, parsed.
    pub fn top_via(&self) -> Option<Via> {
        parse_via(self.header("Via")?)
    }

    /// The `tag` parameter of From.
    pub fn from_tag(&self) -> Option<&str> {
        self.header("From").and_then(|v| param(v, "tag"))
    }

    /// The `tag` parameter of To.
    pub fn to_tag(&self) -> Option<&str> {
        self.header("To").and_then(|v| param(v, "tag"))
    }

    /// Max-Forwards; `Err` when present but not a number.
    pub fn max_forwards(&self) -> Result<Option<u32>, SipError> {
        match self.header("Max-Forwards") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| SipError::Malformed("bad Max-Forwards")),
        }
    }

    /// Content-Type value without parameters, lower case.
    pub fn content_type(&self) -> Option<String> {
        self.header("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Checks the headers every request needs (RFC 3261 §8.1.1). Returns the
    /// reason to put in a 400 when one is missing or wrong.
    pub fn validate_request(&self) -> Result<(), &'static str> {
        if self.call_id().is_none_or(|c| c.trim().is_empty()) {
            return Err("Missing Call-ID");
        }
        let Some((_, cseq_method)) = self.cseq() else {
            return Err("Missing or bad CSeq");
        };
        if Some(&cseq_method) != self.method() {
            return Err("CSeq method does not match");
        }
        if self.header("From").is_none() {
            return Err("Missing From");
        }
        if self.header("To").is_none() {
            return Err("Missing To");
        }
        match self.top_via() {
            None => return Err("Missing or bad Via"),
            Some(v) if v.host.is_empty() => return Err("Bad Via"),
            Some(_) => {}
        }
        if self.max_forwards().is_err() {
            return Err("Bad Max-Forwards");
        }
        // Headers RFC 3261 §7.3 allows once (RFC 4475 §3.3.8, §3.3.9).
        for name in [
            "Call-ID",
            "CSeq",
            "From",
            "To",
            "Max-Forwards",
            "Content-Length",
            "Content-Type",
        ] {
            if self.headers_named(name).nth(1).is_some() {
                return Err(match name {
                    "Call-ID" => "Duplicate Call-ID",
                    "CSeq" => "Duplicate CSeq",
                    "From" => "Duplicate From",
                    "To" => "Duplicate To",
                    "Max-Forwards" => "Duplicate Max-Forwards",
                    "Content-Length" => "Duplicate Content-Length",
                    _ => "Duplicate Content-Type",
                });
            }
        }
        if self.headers_named("Via").any(|v| parse_via(v).is_none()) {
            return Err("Bad Via");
        }
        for name in ["From", "To", "Contact"] {
            if self.headers_named(name).any(|v| !name_addr_ok(v)) {
                return Err(match name {
                    "From" => "Bad From",
                    "To" => "Bad To",
                    _ => "Bad Contact",
                });
            }
        }
        Ok(())
    }
}

/// Checks the shape of a From, To or Contact value: quotes and angle
/// brackets balance (RFC 4475 §3.1.2.6), and no parameter after the URI is
/// empty (`;;`, RFC 4475 §3.1.2.1). A comma-separated Contact list is
/// checked value by value; `*` is a valid Contact.
fn name_addr_ok(value: &str) -> bool {
    split_commas_checked(value).is_some_and(|values| {
        values.iter().all(|v| {
            if v.trim() == "*" {
                return true;
            }
            let params = match uri_close(v) {
                Some(i) => &v[i + 1..],
                None => v.find(';').map_or("", |i| &v[i..]),
            };
            let params = params.trim();
            if v.contains('<') && !params.is_empty() && !params.starts_with(';') {
                return false;
            }
            params
                .strip_prefix(';')
                .is_none_or(|p| p.split(';').all(|x| !x.trim().is_empty()))
        })
    })
}

/// Where a name-addr's URI sits: the first `<` outside quotes and the
/// first `>` after it, so a quoted parameter such as
/// `+sip.instance="<urn:…>"` is not mistaken for the URI's end.
fn uri_span(value: &str) -> Option<(usize, usize)> {
    let (mut quoted, mut open) = (false, None);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' if open.is_none() => quoted = !quoted,
            b'<' if !quoted && open.is_none() => open = Some(i),
            b'>' if open.is_some() => return open.map(|o| (o, i)),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the `>` that closes a name-addr's URI (see [`uri_span`]).
fn uri_close(value: &str) -> Option<usize> {
    uri_span(value).map(|(_, close)| close)
}

/// Like [`split_commas`], but None when a quote or an angle bracket is left
/// open at the end.
fn split_commas_checked(value: &str) -> Option<Vec<&str>> {
    let (mut quoted, mut angle) = (false, false);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => {
                if angle {
                    return None;
                }
                angle = true
            }
            b'>' if !quoted => {
                if !angle {
                    return None;
                }
                angle = false
            }
            _ => {}
        }
        i += 1;
    }
    (!quoted && !angle).then(|| split_commas(value))
}

/// Headers in wire order: (full name, one value).
pub type HeaderList = Vec<(String, String)>;

/// Splits the head into its start line and normalised (name, value) headers.
fn normalize_head(head: &str) -> Result<(&str, HeaderList), SipError> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().ok_or(SipError::Malformed("empty head"))?;
    let mut raw: Vec<String> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Folded continuation of the previous header.
            let prev = raw
                .last_mut()
                .ok_or(SipError::Malformed("continuation line without header"))?;
            prev.push(' ');
            prev.push_str(line.trim());
            continue;
        }
        raw.push(line.to_string());
    }
    let mut headers = Vec::with_capacity(raw.len());
    for line in raw {
        let (name, value) = line
            .split_once(':')
            .ok_or(SipError::Malformed("header line without colon"))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(SipError::Malformed("bad header name"));
        }
        let value = value.trim();
        let name = expand_compact(name)
            .map(str::to_string)
            .unwrap_or_else(|| canonical(name));
        let multi = ["Via", "Route", "Record-Route"]
            .iter()
            .any(|m| name.eq_ignore_ascii_case(m));
        if multi {
            for v in split_commas(value) {
                headers.push((name.clone(), v.to_string()));
            }
        } else {
            headers.push((name, value.to_string()));
        }
        if headers.len() > MAX_HEADERS {
            return Err(SipError::Malformed("too many headers"));
        }
    }
    Ok((start, headers))
}

/// Gives well-known headers their usual spelling (Call-ID, CSeq, …).
fn canonical(name: &str) -> String {
    const KNOWN: [&str; 16] = [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Record-Route",
        "Route",
        "Require",
        "Supported",
        "Allow",
        "User-Agent",
        "Proxy-Require",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn parse_start_line(line: &str) -> Result<StartLine, SipError> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code
            .parse()
            .map_err(|_| SipError::Malformed("bad status code"))?;
        if !(100..=699).contains(&code) {
            return Err(SipError::Malformed("bad status code"));
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_string(),
        });
    }
    // Runs of spaces between the parts are accepted (RFC 4475 §3.1.2.9
    // allows being liberal there); space inside the URI is not.
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SipError::Malformed("bad request line"));
    };
    if version != "SIP/2.0" {
        return Err(SipError::Malformed("bad SIP version"));
    }
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(SipError::Malformed("bad method"));
    }
    if !request_uri_ok(uri) {
        return Err(SipError::Malformed("bad Request-URI"));
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri: uri.to_string(),
    })
}

/// Checks a Request-URI: `scheme:rest` with a token scheme, no white space
/// or angle brackets (RFC 4475 §3.1.2.7), and for `sip`/`sips` a usable
/// host and port. Other schemes are left to the endpoint (416).
fn request_uri_ok(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || rest.is_empty() {
        return false;
    }
    if uri
        .bytes()
        .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == b'"' || b == 0x7f)
    {
        return false;
    }
    if is_sip_scheme(scheme) {
        return sip_uri_host_port(uri).is_some();
    }
    true
}

/// The URI of a Contact (or From) header value when ura can send requests
/// to it: it passes the rule a Request-URI must pass (a scheme, no spaces,
/// control characters or angle brackets, a host for `sip:`/`sips:`). A
/// peer's Contact becomes the Request-URI of what ura sends in the dialog
/// (ACK, BYE, NOTIFY), so one that would make those unreadable is not
/// taken.
pub fn target_uri(value: &str) -> Option<&str> {
    let uri = name_addr_uri(value);
    request_uri_ok(uri).then_some(uri)
}

/// True for `sip` and `sips` (any case).
pub fn is_sip_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")
}

/// The scheme of a URI (`sip`, `tel`, …), if it has one.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    uri.split_once(':').map(|(s, _)| s)
}

/// Splits a `sip:`/`sips:` URI into its userinfo (escaped, as written) and
/// its hostport. The userinfo cannot hold an unescaped `@` (RFC 3261
/// §25.1), so the first `@` ends it, even when the user part holds `;`,
/// `?` or `:` (RFC 4475 §3.1.1.2, §3.1.1.9).
fn sip_uri_split(uri: &str) -> Option<(Option<&str>, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    if !is_sip_scheme(scheme) {
        return None;
    }
    let (userinfo, after) = match rest.split_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    let end = after.find([';', '?']).unwrap_or(after.len());
    Some((userinfo, &after[..end]))
}

/// Host and port of a `sip:`/`sips:` URI; None when the host is missing or
/// holds characters a host cannot, or the port is not a number.
fn sip_uri_host_port(uri: &str) -> Option<(String, Option<u16>)> {
    let (_, hostport) = sip_uri_split(uri)?;
    let (host, port) = split_host_port(hostport)?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    host_ok.then_some((host, port))
}

/// Decodes `%HH` escapes (RFC 3261 §25.1 "escaped"); a `%` not followed by
/// two hex digits stays as it is. Not recursive: `%2541` gives `%41`.
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes the linear white space RFC 3261 allows around `/`, `;`, `=`
/// and `:` inside a Via value (RFC 4475 §3.1.1.1), keeping the one space
/// between the protocol and sent-by.
fn compact_via(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.trim().chars() {
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        let glue = |x: char| matches!(x, '/' | ';' | '=' | ':');
        if pending_space && !glue(c) && !out.ends_with(glue) {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// Parses one Via value: `SIP/2.0/UDP host:port;branch=…;rport`.
///
/// White space around `/`, `;` and `=` is allowed; an empty parameter
/// (`;;`) makes the value invalid (RFC 4475 §3.1.2.1).
pub fn parse_via(value: &str) -> Option<Via> {
    let value = compact_via(value);
    let (proto, rest) = value.split_once(' ')?;
    let transport = proto.rsplit('/').next()?.to_ascii_uppercase();
    let upper = proto.to_ascii_uppercase();
    if !upper.starts_with("SIP/2.0/") || upper.matches('/').count() != 2 || transport.is_empty() {
        return None;
    }
    let mut parts = rest.split(';');
    let sent_by = parts.next()?.trim();
    if sent_by.contains(' ') {
        return None;
    }
    let (host, port) = split_host_port(sent_by)?;
    let mut via = Via {
        transport,
        host,
        port,
        branch: None,
        rport: false,
        received: None,
    };
    for p in parts {
        let (k, v) = p.split_once('=').map_or((p, None), |(k, v)| (k, Some(v)));
        if k.trim().is_empty() {
            return None;
        }
        match k.trim().to_ascii_lowercase().as_str() {
            "branch" => via.branch = v.map(|v| v.trim().to_string()),
            "rport" => via.rport = true,
            "received" => via.received = v.map(|v| v.trim().to_string()),
            _ => {}
        }
    }
    Some(via)
}

/// Splits `host[:port]`, with `[v6]` literals.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), Some(p.parse().ok()?))),
        None if s.is_empty() => None,
        None => Some((s.to_string(), None)),
    }
}

/// A header parameter of a name-addr value (`…>;tag=abc`), after the URI.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match uri_close(value).or_else(|| value.rfind('>')) {
        Some(i) => &value[i + 1..],
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The URI of a name-addr or addr-spec header value (`"Bob" <sip:b@h>;tag=1`).
pub fn name_addr_uri(value: &str) -> &str {
    if let Some((a, b)) = uri_span(value) {
        return &value[a + 1..b];
    }
    if let (Some(a), Some(b)) = (value.find('<'), value.rfind('>')) {
        if a < b {
            return &value[a + 1..b];
        }
    }
    value.split(';').next().unwrap_or("").trim()
}

/// The host rsip is shown in place of an IPv6 literal (`[::1]`), which
/// rsip 0.4 cannot parse: a name of the same shape for its grammar.
const IPV6_STAND_IN: &str = "ipv6-literal.invalid";

/// `text` with every bracketed IPv6 literal (`[2001:db8::1]`) replaced by
/// [`IPV6_STAND_IN`], for rsip's checks only; brackets around anything
/// that is not an IPv6 address are left for rsip to refuse.
fn mask_ipv6_literals(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('[') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].parse::<std::net::Ipv6Addr>().is_ok() => {
                out.push_str(&rest[..open]);
                out.push_str(IPV6_STAND_IN);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The user part of a SIP/tel URI, with `%HH` escapes decoded (RFC 4475
/// §3.1.1.3: `sip:%75se%72@h` is user `user`). None for a URI without a
/// user part or of another scheme.
pub fn uri_user(uri: &str) -> Option<String> {
    if let Some(tel) = uri.strip_prefix("tel:") {
        return Some(unescape(tel.split(';').next().unwrap_or("")));
    }
    let (userinfo, _) = sip_uri_split(uri)?;
    let user = userinfo?.split(':').next().unwrap_or("");
    (!user.is_empty()).then(|| unescape(user))
}

/// The host and port of a URI: our own reading for `sip:`/`sips:` (which
/// stops the host at `;` or `?`), rsip for other schemes.
pub fn uri_host_port(uri: &str) -> Option<(String, Option<u16>)> {
    if uri_scheme(uri).is_some_and(is_sip_scheme) {
        return sip_uri_host_port(uri);
    }
    let parsed = rsip::Uri::try_from(uri).ok()?;
    let host = parsed.host().to_string();
    let port = parsed.port().map(|p| *p.value());
    Some((host.trim_matches(['[', ']']).to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:9000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:9000@127.0.0.1>\r\n\
From: \"Alice\" <sip:alice@10.0.0.5>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.5:5062>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\r\n";

    #[test]
    fn parses_a_typical_invite() {
        let m = Message::parse(INVITE.as_bytes()).unwrap();
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33"));
        assert_eq!(m.cseq(), Some((314159, Method::Invite)));
        assert_eq!(m.from_tag(), Some("1928301774"));
        assert_eq!(m.to_tag(), None);
        let via = m.top_via().unwrap();
        assert_eq!(via.branch.as_deref(), Some("z9hG4bK776asdhds"));
        assert!(via.rport);
        assert_eq!(via.port, Some(5062));
        assert_eq!(m.body, b"v=0\r");
        assert_eq!(uri_user(m.request_uri().unwrap()).as_deref(), Some("9000"));
        assert!(m.validate_request().is_ok());
    }

    #[test]
    fn compact_forms_are_expanded() {
        // rsip alone keeps `i:` and `v:` as unknown headers.
        let raw = "OPTIONS sip:x@h SIP/2.0\r\nv: SIP/2.0/UDP h:5060;branch=z9hG4bKa\r\n\
i: abc\r\nf: <sip:a@h>;tag=1\r\nt: <sip:x@h>\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.call_id(), Some("abc"));
        assert_eq!(m.top_via().unwrap().branch.as_deref(), Some("z9hG4bKa"));
        assert!(m.validate_request().is_ok());
    }

    #[test]
    fn folded_lines_and_space_before_colon_are_accepted() {
        // rsip rejects both forms on its own.
        let raw = "OPTIONS sip:x@h SIP/2.0\r\nVia : SIP/2.0/UDP h:5060\r\n ;branch=z9hG4bKb\r\n\
Call-ID: c\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCSeq: 2 OPTIONS\r\n\r\n";
        assert!(rsip::SipMessage::try_from(raw).is_err());
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.top_via().unwrap().branch.as_deref(), Some("z9hG4bKb"));
    }

    #[test]
    fn unknown_methods_are_kept() {
        // rsip refuses methods it does not know; we need them to answer 405/501.
        let raw = "FOO sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKc\r\nCall-ID: c\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCSeq: 2 FOO\r\n\r\n";
        assert!(rsip::SipMessage::try_from(raw).is_err());
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.method(), Some(&Method::Other("FOO".into())));
    }

    #[test]
    fn multi_value_via_is_split() {
        let raw = "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2\r\n\
Call-ID: c\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCSeq: 2 OPTIONS\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.headers_named("Via").count(), 2);
        assert_eq!(m.top_via().unwrap().host, "a");
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let cases: [(&str, &str); 6] = [
            ("", "empty message"),
            ("INVITE sip:x@h SIP/2.0\r\nVia: x\r\n", "no end of headers"),
            (
                "INVITE sip:x@h SIP/2.0\r\nContent-Length: 99\r\n\r\nshort",
                "Content-Length larger than body",
            ),
            ("INVITE sip:x@h SIP/3.0\r\n\r\n", "bad SIP version"),
            (
                "INVITE sip:x@h SIP/2.0\r\nNoColon\r\n\r\n",
                "header line without colon",
            ),
            ("SIP/2.0 99 Weird\r\n\r\n", "bad status code"),
        ];
        for (raw, reason) in cases {
            match Message::parse(raw.as_bytes()) {
                Err(SipError::Malformed(r)) => assert_eq!(r, reason, "for {raw:?}"),
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn missing_call_id_fails_validation() {
        let raw = "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKc\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCSeq: 2 OPTIONS\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.validate_request(), Err("Missing Call-ID"));
    }

    #[test]
    fn params_and_uris() {
        let v = "\"A, B\" <sip:a@h;lr>;tag=xyz;foo";
        assert_eq!(param(v, "tag"), Some("xyz"));
        assert_eq!(name_addr_uri(v), "sip:a@h;lr");
        assert_eq!(split_commas("<sip:a@h>, \"x,y\" <sip:b@h>").len(), 2);
        // linphone's Contact: a `>` in a parameter after the URI.
        let linphone =
            "<sip:127.0.0.1:47116;transport=udp>;+sip.instance=\"<urn:uuid:1ac9>\";expires=60";
        assert_eq!(name_addr_uri(linphone), "sip:127.0.0.1:47116;transport=udp");
        assert_eq!(param(linphone, "expires"), Some("60"));
        let quoted = "\"a <b> \\\" c\" <sip:x@h>;tag=t";
        assert_eq!(name_addr_uri(quoted), "sip:x@h");
        assert_eq!(param(quoted, "tag"), Some("t"));
        assert_eq!(
            split_host_port("[::1]:5060"),
            Some(("::1".to_string(), Some(5060)))
        );
        assert_eq!(
            uri_host_port("sip:9000@127.0.0.1:5070"),
            Some(("127.0.0.1".to_string(), Some(5070)))
        );
    }

    #[test]
    fn ipv6_literals_in_uris_and_headers_parse() {
        // What SIPp sends with `-i ::1`: rsip 0.4 alone refuses all of it.
        let raw = "INVITE sip:9000@[::1]:5991 SIP/2.0\r\n\
Via: SIP/2.0/UDP [::1]:5992;branch=z9hG4bK-1-0\r\n\
From: \"sipp\" <sip:sipp@[::1]:5992>;tag=1\r\nTo: <sip:9000@[::1]:5991>\r\n\
Call-ID: 1-10153@::1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:sipp@[2001:db8::5]:5992;transport=UDP>\r\nMax-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.validate_request(), Ok(()));
        let uri = m.request_uri().unwrap();
        assert_eq!(uri_user(uri).as_deref(), Some("9000"));
        assert_eq!(uri_host_port(uri), Some(("::1".to_string(), Some(5991))));
        assert_eq!(
            uri_host_port("sip:[2001:db8::5]"),
            Some(("2001:db8::5".to_string(), None))
        );
        let via = m.top_via().unwrap();
        assert_eq!((via.host.as_str(), via.port), ("::1", Some(5992)));
        // Only IPv6 addresses are masked; other brackets are left to rsip.
        assert_eq!(mask_ipv6_literals("a [::1 b"), "a [::1 b");
        assert_eq!(mask_ipv6_literals("[x] [::2]"), "[x] ipv6-literal.invalid");
    }

    #[test]
    fn via_allows_white_space_around_separators() {
        let v = parse_via("SIP  /   2.0 /UDP    192.0.2.2 ; branch = z9hG4bK1 ; rport").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str()),
            ("UDP", "192.0.2.2")
        );
        assert_eq!(v.branch.as_deref(), Some("z9hG4bK1"));
        assert!(v.rport);
        assert_eq!(parse_via("SIP/2.0/UDP h:5062").unwrap().port, Some(5062));
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            ";",
            "SIP/2.0 h",
            "SIP/2.0/UDP a b",
        ] {
            assert_eq!(parse_via(bad), None, "{bad}");
        }
    }

    #[test]
    fn uri_users_are_unescaped_once() {
        assert_eq!(uri_user("sip:%75se%72@h").as_deref(), Some("user"));
        assert_eq!(uri_user("sip:a;b=c%40d@h;x").as_deref(), Some("a;b=c@d"));
        assert_eq!(uri_user("sip:u:pw@h").as_deref(), Some("u"));
        assert_eq!(uri_user("sip:h;maddr=x"), None);
        assert_eq!(uri_user("tel:%2B5511").as_deref(), Some("+5511"));
        assert_eq!(unescape("%2541%4"), "%41%4");
        assert_eq!(
            uri_host_port("sip:a%40b@example.net;p?h=v"),
            Some(("example.net".to_string(), None))
        );
    }

    #[test]
    fn request_uris_are_checked_here() {
        for ok in [
            "sip:u@h",
            "sips:h:5061",
            "tel:+1",
            "soap.beep://192.0.2.1:3002",
        ] {
            assert!(request_uri_ok(ok), "{ok}");
        }
        for bad in [
            "<sip:u@h>",
            "sip:",
            "sip:u@",
            "sip:u@h:x",
            "9sip:u@h",
            "sip:u@h\u{0}",
        ] {
            assert!(!request_uri_ok(bad), "{bad}");
        }
    }

    #[test]
    fn name_addr_shapes() {
        assert!(name_addr_ok("\"A \\\"B\\\"\" <sip:a@h>;tag=1"));
        assert!(name_addr_ok("sip:a@h ; tag = 1"));
        assert!(name_addr_ok("<sip:a@h>, <sip:b@h>;q=0.5"));
        assert!(name_addr_ok("*"));
        assert!(name_addr_ok(
            "<sip:a@h;ob>;expires=60;+sip.instance=\"<urn:uuid:0001>\";reg-id=1"
        ));
        assert!(!name_addr_ok("\"Mr. J. User <sip:j@h>"));
        assert!(!name_addr_ok("\"Joe\" <sip:joe@h>;;;;"));
        assert!(!name_addr_ok("<sip:a@h"));
        assert!(!name_addr_ok("<sip:a@h> junk"));
    }

    #[test]
    fn a_quoted_angle_bracket_after_the_uri_is_a_parameter() {
        let v = "<sip:a@h;ob>;+sip.instance=\"<urn:uuid:1>\";expires=60";
        assert_eq!(name_addr_uri(v), "sip:a@h;ob");
        assert_eq!(param(v, "expires"), Some("60"));
        assert_eq!(name_addr_uri("\"x<y\" <sip:b@h>"), "sip:b@h");
    }

    #[test]
    fn single_valued_headers_may_not_repeat() {
        let raw = "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKc\r\nCall-ID: c\r\n\
From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nTo: <sip:y@h>\r\nCSeq: 2 OPTIONS\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.validate_request(), Err("Duplicate To"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        for len in 0..2000 {
            let mut buf = INVITE.as_bytes().to_vec();
            buf.truncate(len % (INVITE.len() + 1));
            for _ in 0..(len % 5) {
                if !buf.is_empty() {
                    let i = rng.usize(..buf.len());
                    buf[i] = rng.u8(..);
                }
            }
            let _ = Message::parse(&buf).map(|m| m.validate_request());
        }
    }
}
