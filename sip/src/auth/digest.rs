//! HTTP Digest as SIP uses it (RFC 2617, RFC 7616, RFC 8760): reading
//! `Authorization` credentials, writing `WWW-Authenticate` challenges, and
//! computing the expected `response`.
//!
//! Only `qop=auth` is accepted from clients (see [`Credentials::qop`]); the
//! computation without qop (RFC 2069 style) is still available for vectors.

use std::fmt::Write;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::SipError;

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (also what a missing `algorithm` parameter means).
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token written in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Reads an `algorithm` value; `None` for ones we do not support
    /// (including the `-sess` variants).
    pub fn from_token(token: Option<&str>) -> Option<Algorithm> {
        match token {
            None => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => to_hex(&Md5::digest(data)),
            Algorithm::Sha256 => to_hex(&Sha256::digest(data)),
        }
    }
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `H(username:realm:password)`, the secret a server keeps per user.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hex(format!("{user}:{realm}:{password}").as_bytes())
}

/// The qop-related inputs of a response: `(nc, cnonce, qop)`.
pub type QopParts<'a> = Option<(&'a str, &'a str, &'a str)>;

/// The expected `response` value: with qop,
/// `H(HA1:nonce:nc:cnonce:qop:H(method:uri))`; without, `H(HA1:nonce:H(method:uri))`.
pub fn response(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    qop: QopParts<'_>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = alg.hex(format!("{method}:{uri}").as_bytes());
    let input = match qop {
        Some((nc, cnonce, qop)) => format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"),
        None => format!("{ha1}:{nonce}:{ha2}"),
    };
    alg.hex(input.as_bytes())
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credentials of an `Authorization` (or `Proxy-Authorization`) header
/// with the `Digest` scheme. Parameters we do not use are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri` (the digest-uri).
    pub uri: String,
    /// `response`.
    pub response: String,
    /// `algorithm`, as written.
    pub algorithm: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `nc`, as written (8 hex digits).
    pub nc: Option<String>,
    /// `qop`; ura requires `auth`.
    pub qop: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
}

impl Credentials {
    /// The nonce count as a number, when it is exactly 8 hex digits.
    pub fn nc_value(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }
}

/// True when a header value uses the `Digest` scheme.
pub fn is_digest(value: &str) -> bool {
    let value = value.trim_start();
    value
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("Digest"))
        && value[6..].starts_with(|c: char| c.is_ascii_whitespace() || c == ',')
        || value.eq_ignore_ascii_case("Digest")
}

/// Longest header value we read (bounds work on hostile input).
const MAX_VALUE: usize = 4096;

/// Reads `Digest k=v, k="quoted", …`: names in any case and order, quoted
/// strings with `\` escapes and commas inside, unquoted tokens.
///
/// `Err` for another scheme, a syntax error, a repeated parameter, or a
/// missing `username`, `realm`, `nonce`, `uri` or `response`.
pub fn parse_credentials(value: &str) -> Result<Credentials, SipError> {
    if value.len() > MAX_VALUE {
        return Err(SipError::BadCredentials("header too long"));
    }
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(SipError::BadCredentials("not the Digest scheme"));
    }
    let mut c = Credentials::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, val) in parse_params(rest)? {
        let lname = name.to_ascii_lowercase();
        if seen.contains(&lname) {
            return Err(SipError::BadCredentials("repeated parameter"));
        }
        seen.push(lname.clone());
        match lname.as_str() {
            "username" => c.username = val,
            "realm" => c.realm = val,
            "nonce" => c.nonce = val,
            "uri" => c.uri = val,
            "response" => c.response = val.to_ascii_lowercase(),
            "algorithm" => c.algorithm = Some(val),
            "cnonce" => c.cnonce = Some(val),
            "nc" => c.nc = Some(val),
            "qop" => c.qop = Some(val),
            "opaque" => c.opaque = Some(val),
            _ => {}
        }
    }
    for (name, v) in [
        ("username", &c.username),
        ("realm", &c.realm),
        ("nonce", &c.nonce),
        ("uri", &c.uri),
        ("response", &c.response),
    ] {
        if !seen.iter().any(|s| s == name) || (name != "realm" && v.is_empty()) {
            return Err(SipError::BadCredentials("missing parameter"));
        }
    }
    Ok(c)
}

/// Splits `a=b, c="d, e"` into (name, unescaped value) pairs.
fn parse_params(s: &str) -> Result<Vec<(String, String)>, SipError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        // Empty list elements (`a=b,,c=d`) are allowed by the # rule.
        while i < bytes.len() && bytes[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && is_token(bytes[i]) {
            i += 1;
        }
        if i == start {
            return Err(SipError::BadCredentials("expected a parameter name"));
        }
        let name = &s[start..i];
        skip_ws(&mut i);
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(SipError::BadCredentials("expected '='"));
        }
        i += 1;
        skip_ws(&mut i);
        let value = if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            loop {
                match bytes.get(i) {
                    None => return Err(SipError::BadCredentials("unterminated quoted string")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let Some(&escaped) = bytes.get(i + 1) else {
                            return Err(SipError::BadCredentials("unterminated quoted string"));
                        };
                        v.push(escaped);
                        i += 2;
                    }
                    Some(&b) => {
                        v.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8(v).map_err(|_| SipError::BadCredentials("not UTF-8"))?
        } else {
            let vstart = i;
            while i < bytes.len() && is_token(bytes[i]) {
                i += 1;
            }
            if i == vstart {
                return Err(SipError::BadCredentials("expected a value"));
            }
            s[vstart..i].to_string()
        };
        out.push((name.to_string(), value));
        skip_ws(&mut i);
        match bytes.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => return Err(SipError::BadCredentials("expected ','")),
        }
        if out.len() > 32 {
            return Err(SipError::BadCredentials("too many parameters"));
        }
    }
    Ok(out)
}

/// RFC 3261 token characters, plus the URI characters some clients leave
/// unquoted (`uri=sip:ura`); `=`, `,`, `"` and white space still separate.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~/:@?[];&$".contains(&b)
}

/// Escapes `"` and `\` for a quoted string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// A `WWW-Authenticate` value: `Digest realm="…", nonce="…", algorithm=…, qop="auth"`
/// and `stale=true` when asked.
pub fn challenge(realm: &str, nonce: &str, alg: Algorithm, stale: bool) -> String {
    let mut s = format!(
        "Digest realm={}, nonce={}, algorithm={}, qop=\"auth\"",
        quote(realm),
        quote(nonce),
        alg.as_str()
    );
    if stale {
        s.push_str(", stale=true");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example() {
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let r = response(
            Algorithm::Md5,
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b", "auth")),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    fn rfc_7616(alg: Algorithm) -> String {
        let ha1 = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
        response(
            alg,
            &ha1,
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some((
                "00000001",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                "auth",
            )),
            "GET",
            "/dir/index.html",
        )
    }

    #[test]
    fn rfc_7616_examples() {
        assert_eq!(
            rfc_7616(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(rfc_7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn parses_quoted_escaped_any_order() {
        let c = parse_credentials(
            "digest RESPONSE=\"ABCDEF\",  nc=00000001 , Username=\"a\\\"b, c\", \
             realm=\"ura\",nonce=\"n1\", uri=\"sip:ura\", qop=auth, cnonce=\"x,y\", algorithm=SHA-256",
        )
        .unwrap();
        assert_eq!(c.username, "a\"b, c");
        assert_eq!(c.response, "abcdef");
        assert_eq!(c.cnonce.as_deref(), Some("x,y"));
        assert_eq!(c.nc_value(), Some(1));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(
            Algorithm::from_token(c.algorithm.as_deref()),
            Some(Algorithm::Sha256)
        );
        assert_eq!(Algorithm::from_token(None), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_token(Some("MD5-sess")), None);
        let unquoted =
            parse_credentials("Digest username=bob,realm=ura,nonce=n,uri=sip:ura,response=00")
                .unwrap();
        assert_eq!(unquoted.uri, "sip:ura");
    }

    #[test]
    fn refuses_broken_headers() {
        for bad in [
            "",
            "Basic dXNlcjpwYXNz",
            "Digest",
            "Digest username",
            "Digest username=",
            "Digest username=\"a",
            "Digest username=\"a\\",
            "Digest username=a realm=b",
            "Digest username=a, username=b, realm=r, nonce=n, uri=u, response=r",
            "Digest realm=r, nonce=n, uri=u, response=r",
            "Digest =a",
        ] {
            assert!(parse_credentials(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tells_the_digest_scheme() {
        assert!(is_digest("Digest username=a"));
        assert!(is_digest("  digest\tusername=a"));
        assert!(is_digest("DIGEST"));
        assert!(!is_digest("Digestive x"));
        assert!(!is_digest("Basic abc"));
        assert!(!is_digest("Dig€"));
    }

    #[test]
    fn challenge_quotes_the_realm() {
        assert_eq!(
            challenge("a\"b", "n", Algorithm::Sha256, true),
            "Digest realm=\"a\\\"b\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
        let n = "x".repeat(3);
        assert!(constant_time_eq(&n, "xxx") && !constant_time_eq("a", "ab"));
    }
}
