//! SDP (RFC 4566) and offer/answer (RFC 3264) for audio calls.
//!
//! [`SessionDescription::parse`] is lenient where real peers are sloppy (LF-only
//! line ends, trailing white space, missing `s=`/`t=`, unknown lines and
//! attributes) and strict where a wrong guess would break media (`v=0`, `m=`
//! ports and payload types, `c=` addresses). Work is bounded: at most
//! [`MAX_SDP_LEN`] bytes, [`MAX_LINES`] lines, [`MAX_MEDIA`] `m=` lines and
//! [`MAX_ATTRIBUTES`] `a=` lines. It never panics.
//!
//! [`answer`], [`offer`] and [`accept_answer`] implement RFC 3264 for one
//! G.711 audio stream plus RFC 4733 telephone-event.
//!
//! Hold with `c=0.0.0.0` (RFC 2543 style): an offered `sendrecv` stream is
//! treated as `inactive` both ways; `sendonly` stays `sendonly` (we answer
//! `recvonly`); `recvonly` becomes `inactive` since we cannot send to 0.0.0.0.
//! [`Negotiated::remote_rtp`] then has an unspecified IP: do not send to it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Largest SDP body we parse, in bytes.
pub const MAX_SDP_LEN: usize = 65_536;
/// Most lines one SDP may have.
pub const MAX_LINES: usize = 4_000;
/// Most `m=` lines one SDP may have.
pub const MAX_MEDIA: usize = 64;
/// Most `a=` lines one SDP may have (all levels together).
pub const MAX_ATTRIBUTES: usize = 1_000;

/// Why an SDP could not be parsed or negotiated. `Display` is a short reason
/// suitable for a SIP 400/488 reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is larger than [`MAX_SDP_LEN`].
    #[error("SDP too large")]
    TooLarge,
    /// The first line is not `v=0`.
    #[error("SDP must start with v=0")]
    MissingVersion,
    /// A line is not of the form `<letter>=<value>`; the number is the line (1-based, blank lines skipped).
    #[error("malformed SDP line {0}")]
    MalformedLine(usize),
    /// The `o=` line is malformed.
    #[error("bad SDP o= line")]
    BadOrigin,
    /// A `c=` line is malformed or its address is not an IP address.
    #[error("bad SDP c= line")]
    BadConnection,
    /// An `m=` line is malformed; the text names the field.
    #[error("bad SDP m= line: {0}")]
    BadMedia(&'static str),
    /// More than [`MAX_LINES`] lines.
    #[error("too many SDP lines")]
    TooManyLines,
    /// More than [`MAX_MEDIA`] `m=` lines.
    #[error("too many SDP m= lines")]
    TooManyMedia,
    /// More than [`MAX_ATTRIBUTES`] `a=` lines.
    #[error("too many SDP attributes")]
    TooManyAttributes,
    /// No active (port != 0) audio stream.
    #[error("no audio stream")]
    NoAudio,
    /// Audio is offered only over transports we do not support (e.g. SRTP, DTLS).
    #[error("unsupported media transport")]
    UnsupportedTransport,
    /// No PCMU/PCMA in the audio stream (send 488).
    #[error("no common codec")]
    NoCommonCodec,
    /// The audio stream has no connection address (neither media nor session `c=`).
    #[error("no connection address for audio")]
    NoConnectionAddress,
    /// The answer rejected our audio stream (port 0).
    #[error("audio stream rejected")]
    AudioRejected,
    /// The answer's m-lines do not match our offer's.
    #[error("SDP answer does not match offer")]
    AnswerMismatch,
}

/// Media direction attribute (RFC 3264 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

impl Direction {
    /// The direction seen from the other side: sendonly <-> recvonly, others unchanged.
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
    /// The attribute name (`"sendrecv"`, `"sendonly"`, `"recvonly"`, `"inactive"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    /// Whether media flows from the side this direction describes.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    /// Whether the side this direction describes accepts media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    /// The direction with the given send/receive abilities.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
    fn from_attr(name: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.as_str()))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `o=` line. `address` is kept as text (it may be a host name); written
/// as `IN IP6` when it contains `:`, else `IN IP4`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// User name (`-` when none).
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version; bumped on every changed offer/answer.
    pub version: u64,
    /// Unicast address of the originator.
    pub address: String,
}

/// One `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// RTP payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, when given.
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, ...).
    pub kind: String,
    /// Transport port; 0 means the stream is rejected/disabled. A `/<count>` suffix is ignored.
    pub port: u16,
    /// Transport protocol (`RTP/AVP`, ...).
    pub protocol: String,
    /// RTP payload types in order of preference (only for RTP protocols).
    pub formats: Vec<u8>,
    /// Formats of non-RTP protocols (e.g. `t38`, `webrtc-datachannel`), kept verbatim.
    pub other_formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines in order.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>` lines in order.
    pub fmtps: Vec<(u8, String)>,
    /// Direction: the media attribute, else the session attribute, else sendrecv.
    pub direction: Direction,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
    pub rtcp: Option<(u16, Option<IpAddr>)>,
    /// Every other `a=` line, without the `a=` (media-level `b=`/`i=`/`k=` lines are dropped).
    pub other_attributes: Vec<String>,
}

impl MediaDescription {
    /// The address to send this stream to: media-level `c=`, else session-level `c=`.
    pub fn connection_address(&self, session: &SessionDescription) -> Option<IpAddr> {
        self.connection.or(session.connection)
    }
    /// Encoding name and clock rate of a payload type: its `a=rtpmap`, else the
    /// static table (0 PCMU, 3 GSM, 8 PCMA, 9 G722, 13 CN, 18 G729; all 8000 Hz).
    pub fn encoding_of(&self, pt: u8) -> Option<(String, u32)> {
        if let Some(r) = self.rtpmap(pt) {
            return Some((r.encoding.clone(), r.clock_rate));
        }
        let name = match pt {
            0 => "PCMU",
            3 => "GSM",
            8 => "PCMA",
            9 => "G722",
            13 => "CN",
            18 => "G729",
            _ => return None,
        };
        Some((name.to_string(), 8000))
    }
    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|r| r.payload_type == pt)
    }
    /// The `a=fmtp` parameters of a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, s)| s.as_str())
    }
    fn is_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
    }
}

/// A parsed or built session description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// `o=` (`- 0 0 0.0.0.0` when the line is missing).
    pub origin: Origin,
    /// `s=` (`-` when missing or empty).
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `t=` values in order (`"0 0"` when missing).
    pub times: Vec<String>,
    /// Session-level direction attribute (already applied to media without their own).
    pub direction: Option<Direction>,
    /// Other session-level `a=` lines, without the `a=`.
    pub attributes: Vec<String>,
    /// Other session-level lines (`i=`, `b=`, `r=`, `z=`, ...) with their `x=`, in RFC 4566 order.
    pub other_lines: Vec<String>,
    /// `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

fn line_rank(letter: u8) -> u8 {
    match letter {
        b'i' | b'u' | b'e' | b'p' => 0,
        b'b' => 1,
        b'r' => 2,
        _ => 3,
    }
}

fn parse_conn(v: &str) -> Result<IpAddr, SdpError> {
    let mut it = v.split_ascii_whitespace();
    match (it.next(), it.next(), it.next()) {
        (Some(n), Some(_), Some(a)) if n.eq_ignore_ascii_case("IN") => {
            let a = a.split('/').next().unwrap_or(a); // multicast TTL
            a.parse().map_err(|_| SdpError::BadConnection)
        }
        _ => Err(SdpError::BadConnection),
    }
}

fn is_rtp_protocol(p: &str) -> bool {
    p.to_ascii_uppercase().contains("RTP")
}

fn parse_media_line(v: &str) -> Result<MediaDescription, SdpError> {
    let mut it = v.split_ascii_whitespace();
    let kind = it.next().ok_or(SdpError::BadMedia("media type"))?;
    let port = it.next().ok_or(SdpError::BadMedia("port"))?;
    let port = port.split('/').next().unwrap_or(port);
    let port: u16 = port.parse().map_err(|_| SdpError::BadMedia("port"))?;
    let protocol = it.next().ok_or(SdpError::BadMedia("protocol"))?;
    let mut m = MediaDescription {
        kind: kind.into(),
        port,
        protocol: protocol.into(),
        ..Default::default()
    };
    for f in it {
        if is_rtp_protocol(protocol) {
            match f.parse::<u8>() {
                Ok(pt) if pt <= 127 => m.formats.push(pt),
                _ => return Err(SdpError::BadMedia("payload type")),
            }
        } else {
            m.other_formats.push(f.into());
        }
    }
    Ok(m)
}

fn parse_pt(s: &str) -> Option<u8> {
    s.parse::<u8>().ok().filter(|pt| *pt <= 127)
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(RtpMap {
        payload_type: parse_pt(pt.trim())?,
        encoding: encoding.into(),
        clock_rate,
        channels,
    })
}

fn parse_rtcp(v: &str) -> Option<(u16, Option<IpAddr>)> {
    let (port, rest) = v.split_once(' ').unwrap_or((v, ""));
    let port = port.trim().parse().ok()?;
    if rest.trim().is_empty() {
        return Some((port, None));
    }
    Some((port, Some(parse_conn(rest).ok()?)))
}

/// Applies one media-level attribute; returns true when it set the direction.
fn media_attr(m: &mut MediaDescription, attr: &str) -> bool {
    let (name, value) = match attr.split_once(':') {
        Some((n, v)) => (n, Some(v.trim())),
        None => (attr, None),
    };
    let name = name.trim();
    let known = match (name.to_ascii_lowercase().as_str(), value) {
        ("rtpmap", Some(v)) => parse_rtpmap(v).map(|r| m.rtpmaps.push(r)).is_some(),
        ("fmtp", Some(v)) => {
            let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
            parse_pt(pt)
                .map(|pt| m.fmtps.push((pt, params.trim().into())))
                .is_some()
        }
        ("ptime", Some(v)) => {
            let ms = v.split('.').next().unwrap_or(v).parse().ok();
            ms.map(|ms| m.ptime = Some(ms)).is_some()
        }
        ("rtcp", Some(v)) => parse_rtcp(v).map(|r| m.rtcp = Some(r)).is_some(),
        (_, None) => {
            if let Some(d) = Direction::from_attr(name) {
                m.direction = d;
                return true;
            }
            false
        }
        _ => false,
    };
    if !known {
        m.other_attributes.push(attr.into());
    }
    false
}

impl SessionDescription {
    /// Parses an SDP body (`&str`, `&[u8]`, `Bytes`, ...). Invalid UTF-8 is replaced, not rejected.
    pub fn parse(input: impl AsRef<[u8]>) -> Result<Self, SdpError> {
        let input = input.as_ref();
        if input.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        Self::parse_text(&String::from_utf8_lossy(input))
    }

    fn parse_text(text: &str) -> Result<Self, SdpError> {
        let mut sd = SessionDescription {
            origin: Origin {
                username: "-".into(),
                address: "0.0.0.0".into(),
                ..Default::default()
            },
            session_name: "-".into(),
            ..Default::default()
        };
        let (mut seen_v, mut seen_o, mut seen_s) = (false, false, false);
        let (mut n_lines, mut n_attrs) = (0usize, 0usize);
        let mut explicit_dir: Vec<bool> = Vec::new();
        let lines = text
            .split(['\n', '\r'])
            .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '\u{feff}'))
            .filter(|l| !l.is_empty());
        for line in lines {
            n_lines += 1;
            if n_lines > MAX_LINES {
                return Err(SdpError::TooManyLines);
            }
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_alphabetic() {
                return Err(if seen_v {
                    SdpError::MalformedLine(n_lines)
                } else {
                    SdpError::MissingVersion
                });
            }
            let (letter, value) = (b[0].to_ascii_lowercase(), line[2..].trim());
            if !seen_v {
                if letter != b'v' || value != "0" {
                    return Err(SdpError::MissingVersion);
                }
                seen_v = true;
                continue;
            }
            if letter == b'a' {
                n_attrs += 1;
                if n_attrs > MAX_ATTRIBUTES {
                    return Err(SdpError::TooManyAttributes);
                }
            }
            if letter == b'm' {
                if sd.media.len() >= MAX_MEDIA {
                    return Err(SdpError::TooManyMedia);
                }
                sd.media.push(parse_media_line(value)?);
                explicit_dir.push(false);
                continue;
            }
            if let (Some(m), Some(explicit)) = (sd.media.last_mut(), explicit_dir.last_mut()) {
                match letter {
                    b'c' if m.connection.is_none() => m.connection = Some(parse_conn(value)?),
                    b'c' => {
                        parse_conn(value)?;
                    }
                    b'a' => *explicit |= media_attr(m, value),
                    _ => {} // b=, i=, k= at media level: not needed for audio
                }
                continue;
            }
            match letter {
                b'v' => {}
                b'o' if !seen_o => {
                    seen_o = true;
                    sd.origin = parse_origin(value)?;
                }
                b's' if !seen_s => {
                    seen_s = true;
                    if !value.is_empty() {
                        sd.session_name = value.into();
                    }
                }
                b'o' | b's' => {}
                b'c' if sd.connection.is_none() => sd.connection = Some(parse_conn(value)?),
                b'c' => {
                    parse_conn(value)?;
                }
                b't' => sd.times.push(value.into()),
                b'a' => match Direction::from_attr(value) {
                    Some(d) => sd.direction = Some(d),
                    None => sd.attributes.push(value.into()),
                },
                _ => sd.other_lines.push(format!("{}={}", letter as char, value)),
            }
        }
        if !seen_v {
            return Err(SdpError::MissingVersion);
        }
        if sd.times.is_empty() {
            sd.times.push("0 0".into());
        }
        sd.other_lines
            .sort_by_key(|l| l.as_bytes().first().map_or(3, |b| line_rank(*b)));
        if let Some(d) = sd.direction {
            for (m, explicit) in sd.media.iter_mut().zip(explicit_dir) {
                if !explicit {
                    m.direction = d;
                }
            }
        }
        Ok(sd)
    }
}

fn parse_origin(v: &str) -> Result<Origin, SdpError> {
    let t: Vec<&str> = v.split_ascii_whitespace().take(7).collect();
    if t.len() != 6 {
        return Err(SdpError::BadOrigin);
    }
    Ok(Origin {
        username: t[0].into(),
        session_id: t[1].parse().map_err(|_| SdpError::BadOrigin)?,
        version: t[2].parse().map_err(|_| SdpError::BadOrigin)?,
        address: t[5].into(),
    })
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, SdpError> {
        Self::parse(s)
    }
}

/// Writes text with CR/LF replaced (no line injection); as a token also
/// replaces white space with `-` and writes `-` for an empty string.
struct Clean<'a>(&'a str, bool);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 && self.0.is_empty() {
            return f.write_str("-");
        }
        for c in self.0.chars() {
            let bad = c == '\r' || c == '\n' || (self.1 && c.is_whitespace());
            fmt::Write::write_char(f, if bad { '-' } else { c })?;
        }
        Ok(())
    }
}

fn ip_type(ip: &IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "IP6"
    } else {
        "IP4"
    }
}

impl fmt::Display for SessionDescription {
    /// Writes CRLF lines in RFC 4566 order: v, o, s, (i u e p), c, b, t, (r), (z k ...), a, then m sections.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        let addr = if o.address.is_empty() {
            "0.0.0.0"
        } else {
            o.address.as_str()
        };
        let at = if addr.contains(':') { "IP6" } else { "IP4" };
        write!(
            f,
            "v=0\r\no={} {} {} IN {at} {}\r\n",
            Clean(&o.username, true),
            o.session_id,
            o.version,
            Clean(addr, true)
        )?;
        let name = if self.session_name.trim().is_empty() {
            "-"
        } else {
            self.session_name.as_str()
        };
        write!(f, "s={}\r\n", Clean(name, false))?;
        let other =
            |f: &mut fmt::Formatter<'_>, rank: std::ops::RangeInclusive<u8>| -> fmt::Result {
                for l in self.other_lines.iter().filter(|l| {
                    l.as_bytes()
                        .first()
                        .is_some_and(|b| rank.contains(&line_rank(*b)))
                }) {
                    write!(f, "{}\r\n", Clean(l, false))?;
                }
                Ok(())
            };
        other(f, 0..=0)?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {c}\r\n", ip_type(c))?;
        }
        other(f, 1..=1)?;
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for t in &self.times {
            write!(f, "t={}\r\n", Clean(t, false))?;
        }
        other(f, 2..=3)?;
        for a in &self.attributes {
            write!(f, "a={}\r\n", Clean(a, false))?;
        }
        if let Some(d) = self.direction {
            write!(f, "a={d}\r\n")?;
        }
        for m in &self.media {
            write!(
                f,
                "m={} {} {}",
                Clean(&m.kind, true),
                m.port,
                Clean(&m.protocol, true)
            )?;
            for pt in &m.formats {
                write!(f, " {pt}")?;
            }
            for fmt in &m.other_formats {
                write!(f, " {}", Clean(fmt, true))?;
            }
            f.write_str("\r\n")?;
            if let Some(c) = &m.connection {
                write!(f, "c=IN {} {c}\r\n", ip_type(c))?;
            }
            for r in &m.rtpmaps {
                write!(
                    f,
                    "a=rtpmap:{} {}/{}",
                    r.payload_type,
                    Clean(&r.encoding, true),
                    r.clock_rate
                )?;
                match r.channels {
                    Some(ch) => write!(f, "/{ch}\r\n")?,
                    None => f.write_str("\r\n")?,
                }
            }
            for (pt, p) in &m.fmtps {
                match p.is_empty() {
                    true => write!(f, "a=fmtp:{pt}\r\n")?,
                    false => write!(f, "a=fmtp:{pt} {}\r\n", Clean(p, false))?,
                }
            }
            if let Some(p) = m.ptime {
                write!(f, "a=ptime:{p}\r\n")?;
            }
            match m.rtcp {
                Some((port, Some(ip))) => write!(f, "a=rtcp:{port} IN {} {ip}\r\n", ip_type(&ip))?,
                Some((port, None)) => write!(f, "a=rtcp:{port}\r\n")?,
                None => {}
            }
            for a in &m.other_attributes {
                write!(f, "a={}\r\n", Clean(a, false))?;
            }
            write!(f, "a={}\r\n", m.direction)?;
        }
        Ok(())
    }
}

/// An audio codec we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 mu-law, static payload type 0, 8000 Hz.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8000 Hz.
    Pcma,
}

impl AudioCodec {
    /// Static RTP payload type (0 or 8).
    pub fn payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
        }
    }
    /// Encoding name for `a=rtpmap` (`PCMU`/`PCMA`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }
    /// Clock rate in Hz (8000).
    pub fn clock_rate(self) -> u32 {
        8000
    }
}

/// What we support and offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Our RTP address (goes into `o=` and `c=`).
    pub address: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// Codecs in our order of preference (order used only in our offers; in
    /// answers the caller's order wins, but codecs not listed here are not
    /// chosen). Empty means PCMU and PCMA.
    pub codecs: Vec<AudioCodec>,
    /// telephone-event payload type for our offers (101; a value outside 96..=127 means 101).
    pub telephone_event_pt: u8,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version (the dialog bumps it for each new offer/answer).
    pub session_version: u64,
    /// `o=` user name (`ura`).
    pub username: String,
}

impl LocalMedia {
    /// Defaults: PCMU then PCMA, telephone-event 101, a random session id, version 1, user `ura`.
    pub fn new(address: IpAddr, port: u16) -> Self {
        LocalMedia {
            address,
            port,
            codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
            telephone_event_pt: 101,
            session_id: fastrand::u64(1..1 << 62),
            session_version: 1,
            username: "ura".into(),
        }
    }
    fn allowed(&self) -> Vec<AudioCodec> {
        if self.codecs.is_empty() {
            vec![AudioCodec::Pcmu, AudioCodec::Pcma]
        } else {
            self.codecs.clone()
        }
    }
    fn session(&self) -> SessionDescription {
        SessionDescription {
            origin: Origin {
                username: self.username.clone(),
                session_id: self.session_id,
                version: self.session_version,
                address: self.address.to_string(),
            },
            session_name: "-".into(),
            connection: Some(self.address),
            times: vec!["0 0".into()],
            ..Default::default()
        }
    }
}

/// Result of negotiation that the media layer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec both ends use.
    pub codec: AudioCodec,
    /// Its payload type on the wire (the offerer's number, maybe dynamic).
    pub payload_type: u8,
    /// telephone-event payload type, when both ends have it.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP (unspecified IP for `c=0.0.0.0` hold: do not send).
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP, from `a=rtcp` only.
    pub remote_rtcp: Option<SocketAddr>,
    /// The peer's effective direction (after the `c=0.0.0.0` hold rule).
    pub remote_direction: Direction,
    /// Our direction: whether we send and/or receive.
    pub local_direction: Direction,
    /// Packet time to send, ms: the peer's `a=ptime` if a multiple of 10 in 10..=60, else 20.
    pub ptime: u32,
}

fn codec_of(
    m: &MediaDescription,
    fallback: Option<&MediaDescription>,
    pt: u8,
) -> Option<AudioCodec> {
    let map = m.rtpmap(pt).or_else(|| fallback.and_then(|o| o.rtpmap(pt)));
    match map {
        Some(r) if r.clock_rate == 8000 && r.channels.is_none_or(|c| c == 1) => {
            if r.encoding.eq_ignore_ascii_case("PCMU") {
                Some(AudioCodec::Pcmu)
            } else if r.encoding.eq_ignore_ascii_case("PCMA") {
                Some(AudioCodec::Pcma)
            } else {
                None
            }
        }
        Some(_) => None,
        None => [AudioCodec::Pcmu, AudioCodec::Pcma]
            .into_iter()
            .find(|c| c.payload_type() == pt),
    }
}

fn telephone_event(
    m: &MediaDescription,
    fallback: Option<&MediaDescription>,
) -> Option<(u8, String)> {
    m.formats.iter().copied().find_map(|pt| {
        let r = m
            .rtpmap(pt)
            .or_else(|| fallback.and_then(|o| o.rtpmap(pt)))?;
        if !r.encoding.eq_ignore_ascii_case("telephone-event") || r.clock_rate != 8000 {
            return None;
        }
        let fmtp = m.fmtp(pt).filter(|p| !p.is_empty()).unwrap_or("0-16");
        Some((pt, fmtp.to_string()))
    })
}

/// The peer's direction, applying the RFC 2543 hold rule for an unspecified address.
fn effective(dir: Direction, addr: IpAddr) -> Direction {
    match (addr.is_unspecified(), dir) {
        (false, d) => d,
        (true, Direction::SendRecv) => Direction::Inactive,
        (true, d) => Direction::from_flags(d.sends(), false),
    }
}

fn sane_ptime(p: Option<u32>) -> u32 {
    p.filter(|p| (10..=60).contains(p) && p % 10 == 0)
        .unwrap_or(20)
}

fn rtcp_addr(m: &MediaDescription, rtp_ip: IpAddr) -> Option<SocketAddr> {
    m.rtcp
        .map(|(port, ip)| SocketAddr::new(ip.unwrap_or(rtp_ip), port))
}

fn is_supported_protocol(p: &str) -> bool {
    p.eq_ignore_ascii_case("RTP/AVP") || p.eq_ignore_ascii_case("RTP/AVPF")
}

fn rejected(m: &MediaDescription) -> MediaDescription {
    let mut r = MediaDescription {
        kind: m.kind.clone(),
        port: 0,
        protocol: m.protocol.clone(),
        formats: m.formats.iter().copied().take(1).collect(),
        other_formats: m.other_formats.iter().take(1).cloned().collect(),
        direction: Direction::Inactive,
        ..Default::default()
    };
    if r.formats.is_empty() && r.other_formats.is_empty() {
        match is_rtp_protocol(&m.protocol) {
            true => r.formats.push(0),
            false => r.other_formats.push("*".into()),
        }
    }
    r
}

/// Answers an offer (RFC 3264): accepts the first audio stream over RTP/AVP(F)
/// with PCMU/PCMA (the caller's order of preference), rejects every other
/// m-line with port 0. `NoCommonCodec` / `UnsupportedTransport` / `NoAudio` => 488.
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, Negotiated), SdpError> {
    let allowed = local.allowed();
    let (mut saw_audio, mut saw_transport) = (false, false);
    let mut chosen = None;
    for (i, m) in offer.media.iter().enumerate() {
        if !m.is_audio() || m.port == 0 {
            continue;
        }
        saw_audio = true;
        if !is_supported_protocol(&m.protocol) {
            continue;
        }
        saw_transport = true;
        let pick = m.formats.iter().find_map(|&pt| {
            codec_of(m, None, pt)
                .filter(|c| allowed.contains(c))
                .map(|c| (c, pt))
        });
        if let Some((codec, pt)) = pick {
            chosen = Some((i, codec, pt));
            break;
        }
    }
    let Some((idx, codec, pt)) = chosen else {
        return Err(match (saw_audio, saw_transport) {
            (_, true) => SdpError::NoCommonCodec,
            (true, false) => SdpError::UnsupportedTransport,
            _ => SdpError::NoAudio,
        });
    };
    let om = &offer.media[idx];
    let ip = om
        .connection_address(offer)
        .ok_or(SdpError::NoConnectionAddress)?;
    let remote_direction = effective(om.direction, ip);
    let local_direction = remote_direction.reversed();
    let te = telephone_event(om, None);

    let mut am = MediaDescription {
        kind: om.kind.clone(),
        port: local.port,
        protocol: om.protocol.clone(),
        formats: vec![pt],
        rtpmaps: vec![RtpMap {
            payload_type: pt,
            encoding: codec.encoding_name().into(),
            clock_rate: 8000,
            channels: None,
        }],
        direction: local_direction,
        ptime: Some(20),
        ..Default::default()
    };
    if let Some((te_pt, fmtp)) = &te {
        am.formats.push(*te_pt);
        am.rtpmaps.push(RtpMap {
            payload_type: *te_pt,
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            channels: None,
        });
        am.fmtps.push((*te_pt, fmtp.clone()));
    }
    let mut sd = local.session();
    sd.media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| if i == idx { am.clone() } else { rejected(m) })
        .collect();
    let neg = Negotiated {
        codec,
        payload_type: pt,
        telephone_event_pt: te.map(|(p, _)| p),
        remote_rtp: SocketAddr::new(ip, om.port),
        remote_rtcp: rtcp_addr(om, ip),
        remote_direction,
        local_direction,
        ptime: sane_ptime(om.ptime),
    };
    Ok((sd, neg))
}

/// Builds our offer: one audio stream with our codecs (PCMU 0, PCMA 8),
/// telephone-event (fmtp 0-16), ptime 20 and the given direction.
pub fn offer(local: &LocalMedia, direction: Direction) -> SessionDescription {
    let te = if (96..=127).contains(&local.telephone_event_pt) {
        local.telephone_event_pt
    } else {
        101
    };
    let mut m = MediaDescription {
        kind: "audio".into(),
        port: local.port,
        protocol: "RTP/AVP".into(),
        direction,
        ptime: Some(20),
        ..Default::default()
    };
    for c in local.allowed() {
        if !m.formats.contains(&c.payload_type()) {
            m.formats.push(c.payload_type());
            m.rtpmaps.push(RtpMap {
                payload_type: c.payload_type(),
                encoding: c.encoding_name().into(),
                clock_rate: 8000,
                channels: None,
            });
        }
    }
    m.formats.push(te);
    m.rtpmaps.push(RtpMap {
        payload_type: te,
        encoding: "telephone-event".into(),
        clock_rate: 8000,
        channels: None,
    });
    m.fmtps.push((te, "0-16".into()));
    let mut sd = local.session();
    sd.media.push(m);
    sd
}

/// Reads the answer to our offer (in a 200 OK, or in the ACK after an offer in our 200).
/// The codec must be one we offered; our direction is what we offered limited by the answer.
pub fn accept_answer(
    our_offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Negotiated, SdpError> {
    let idx = our_offer
        .media
        .iter()
        .position(|m| m.is_audio() && m.port != 0)
        .ok_or(SdpError::NoAudio)?;
    let om = &our_offer.media[idx];
    let am = answer
        .media
        .get(idx)
        .filter(|m| m.is_audio())
        .ok_or(SdpError::AnswerMismatch)?;
    if am.port == 0 {
        return Err(SdpError::AudioRejected);
    }
    let offered: Vec<AudioCodec> = om
        .formats
        .iter()
        .filter_map(|&pt| codec_of(om, None, pt))
        .collect();
    let (codec, pt) = am
        .formats
        .iter()
        .find_map(|&pt| {
            codec_of(am, Some(om), pt)
                .filter(|c| offered.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let ip = am
        .connection_address(answer)
        .ok_or(SdpError::NoConnectionAddress)?;
    let remote_direction = effective(am.direction, ip);
    let ours = om.direction;
    let local_direction = Direction::from_flags(
        ours.sends() && remote_direction.receives(),
        ours.receives() && remote_direction.sends(),
    );
    let te = telephone_event(am, Some(om)).filter(|_| telephone_event(om, None).is_some());
    Ok(Negotiated {
        codec,
        payload_type: pt,
        telephone_event_pt: te.map(|(p, _)| p),
        remote_rtp: SocketAddr::new(ip, am.port),
        remote_rtcp: rtcp_addr(am, ip),
        remote_direction,
        local_direction,
        ptime: sane_ptime(am.ptime),
    })
}

#[cfg(test)]
mod tests;
