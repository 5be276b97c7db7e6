//! The signature on every request: `Ura-Signature: t=<unix seconds>,v1=<hex>`
//! where the hex is HMAC-SHA256 keyed with the webhook's secret over
//! `"<t>.<body>"`. Binding the timestamp into the MAC lets a receiver
//! refuse a replayed request once it is older than its window.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::WebhookError;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Ura-Signature";

/// The replay window receivers should allow (and [`verify`] is given):
/// five minutes either way.
pub const REPLAY_WINDOW_S: i64 = 300;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = format!("t={timestamp},v1=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Checks a header value against `body` and `secret`, at `now` (Unix
/// seconds) with a replay window of `window_s`. Compares in constant time.
pub fn verify(
    header: &str,
    secret: &str,
    body: &[u8],
    now: i64,
    window_s: i64,
) -> Result<(), WebhookError> {
    let malformed = || WebhookError::MalformedSignature(header.chars().take(80).collect());
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| malformed())?),
            Some(("v1", hex)) => tags.push(decode_hex(hex).ok_or_else(malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(malformed)?;
    if tags.is_empty() {
        return Err(malformed());
    }
    let skew_s = (now - timestamp).abs();
    if skew_s > window_s {
        return Err(WebhookError::Stale {
            timestamp,
            skew_s,
            window_s,
        });
    }
    let ok = tags
        .iter()
        .any(|tag| mac(secret, timestamp, body).verify_slice(tag).is_ok());
    if ok {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_one_made_elsewhere() {
        // Made with Python: hmac.new(b"Jefe", b"1700000000.{}",
        // hashlib.sha256).hexdigest()
        assert_eq!(
            sign("Jefe", 1_700_000_000, b"{}"),
            "t=1700000000,v1=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
    }

    #[test]
    fn verify_takes_the_right_signature_and_refuses_the_rest() {
        let body = br#"{"type":"call.ended"}"#;
        let h = sign("s3cret", 1_000, body);
        assert_eq!(verify(&h, "s3cret", body, 1_000, REPLAY_WINDOW_S), Ok(()));
        assert_eq!(verify(&h, "s3cret", body, 1_299, REPLAY_WINDOW_S), Ok(()));
        assert_eq!(
            verify(&h, "other", body, 1_000, REPLAY_WINDOW_S),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&h, "s3cret", b"{}", 1_000, REPLAY_WINDOW_S),
            Err(WebhookError::BadSignature)
        );
        assert!(matches!(
            verify(&h, "s3cret", body, 1_301, REPLAY_WINDOW_S),
            Err(WebhookError::Stale { skew_s: 301, .. })
        ));
        for bad in [
            "",
            "t=1000",
            "v1=00",
            "t=x,v1=00",
            "t=1000,v1=0g",
            "t=1000,v1=0",
        ] {
            assert!(
                matches!(
                    verify(bad, "s3cret", body, 1_000, 300),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "{bad}"
            );
        }
    }
}
