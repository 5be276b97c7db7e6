//! Who a visitor is, as the site says it: a token its backend signs for
//! its logged-in user with the channel's `identity_secret` (a JWT, HS256),
//! checked here. Nothing reads a clock: the time is an input.
//!
//! Claims: `sub` (the site's own customer id, required), `exp` (required,
//! Unix seconds, at most [`MAX_LIFETIME`] ahead), and optionally `name`,
//! `email` and `phone` (they fill the pre-chat form's fields). Other
//! claims are ignored. A conversation started with a verified identity
//! belongs to the customer `CHANNEL:sub` ([`Identity::customer`]); one
//! without, to a random customer of its own ([`anonymous_customer`]).

use std::collections::BTreeMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::error::{ChannelsError, IdentityRefusal};

/// A token's longest life: `exp` further than this from now is refused
/// (a leaked token must not open conversations as the customer for long).
pub const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// How far the site's clock may be behind ours when `exp` is checked.
pub const LEEWAY: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest token, in bytes.
pub const MAX_TOKEN: usize = 4096;
/// Longest `sub`, in characters.
pub const MAX_SUB: usize = 128;
/// Shortest channel secret, in bytes (HS256 wants at least 256 bits).
pub const MIN_SECRET: usize = 32;
/// Longest channel secret, in bytes.
pub const MAX_SECRET: usize = 512;
/// Longest `name`, `email` or `phone`, in characters (as a pre-chat field).
const MAX_FIELD: usize = 200;

/// A visitor the site identified: the token's claims, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The site's customer id.
    pub sub: String,
    /// The fields the token carries (`name`, `email`, `phone`), non-empty.
    pub fields: BTreeMap<String, String>,
    /// When the token expires, Unix seconds.
    pub exp: i64,
}

impl Identity {
    /// The customer id of this visitor on `channel`: `CHANNEL:sub`, the
    /// same in every conversation.
    pub fn customer(&self, channel: &str) -> String {
        format!("{channel}:{}", self.sub)
    }
}

/// The customer id of an anonymous visitor: `anon-` and the random hex
/// given (never has a `:`, so it never equals an identified one).
pub fn anonymous_customer(random_hex: &str) -> String {
    format!("anon-{random_hex}")
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
    email: Option<serde_json::Value>,
    phone: Option<serde_json::Value>,
}

fn refuse(reason: IdentityRefusal, message: impl Into<String>) -> ChannelsError {
    ChannelsError::Identity {
        reason,
        message: message.into(),
    }
}

/// Checks `token` against the channel's `secret` at `now_unix_s`.
///
/// Refusals name their reason: `malformed` (not a JWT, not HS256, claims
/// of the wrong type), `bad_signature` (not signed with this channel's
/// secret), `expired`, `too_long_lived` (`exp` more than
/// [`MAX_LIFETIME`] ahead), `bad_claim` (a missing `sub` or `exp`, a
/// field too long, an e-mail without `@`).
pub fn verify(token: &str, secret: &str, now_unix_s: i64) -> Result<Identity, ChannelsError> {
    if token.len() > MAX_TOKEN {
        return Err(refuse(
            IdentityRefusal::Malformed,
            format!("the identity token is longer than {MAX_TOKEN} bytes"),
        ));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    // Time is checked below, against the time given; no audience or
    // issuer is asked for.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => refuse(
            IdentityRefusal::BadSignature,
            "the identity token is not signed with this channel's secret",
        ),
        ErrorKind::InvalidAlgorithm => refuse(
            IdentityRefusal::Malformed,
            "the identity token must be signed with HS256",
        ),
        _ => refuse(
            IdentityRefusal::Malformed,
            format!("the identity token is not a JWT: {e}"),
        ),
    })?;
    let c = data.claims;
    let exp = match c.exp {
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(|| {
            refuse(
                IdentityRefusal::BadClaim,
                "exp: whole seconds since 1970 expected",
            )
        })?,
        Some(_) => {
            return Err(refuse(
                IdentityRefusal::BadClaim,
                "exp: whole seconds since 1970 expected",
            ))
        }
        None => {
            return Err(refuse(
                IdentityRefusal::BadClaim,
                "exp: required (when the token expires)",
            ))
        }
    };
    let leeway = LEEWAY.as_secs() as i64;
    if exp.saturating_add(leeway) <= now_unix_s {
        return Err(refuse(
            IdentityRefusal::Expired,
            format!(
                "the identity token expired {} s ago",
                now_unix_s.saturating_sub(exp)
            ),
        ));
    }
    let max = MAX_LIFETIME.as_secs() as i64;
    if exp.saturating_sub(now_unix_s) > max.saturating_add(leeway) {
        return Err(refuse(
            IdentityRefusal::TooLongLived,
            format!("exp: at most {} hours from now", max / 3600),
        ));
    }
    let text = |claim: &str, v: Option<serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(refuse(
            IdentityRefusal::BadClaim,
            format!("{claim}: a string expected"),
        )),
    };
    let sub = text("sub", c.sub)?.unwrap_or_default();
    if sub.is_empty() {
        return Err(refuse(
            IdentityRefusal::BadClaim,
            "sub: required (the site's customer id)",
        ));
    }
    if sub.chars().count() > MAX_SUB || sub.chars().any(char::is_control) {
        return Err(refuse(
            IdentityRefusal::BadClaim,
            format!("sub: at most {MAX_SUB} characters, none of them control characters"),
        ));
    }
    let mut fields = BTreeMap::new();
    for (claim, value) in [("name", c.name), ("email", c.email), ("phone", c.phone)] {
        let Some(value) = text(claim, value)? else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        if value.chars().count() > MAX_FIELD {
            return Err(refuse(
                IdentityRefusal::BadClaim,
                format!("{claim}: at most {MAX_FIELD} characters"),
            ));
        }
        if claim == "email" && !value.contains('@') {
            return Err(refuse(
                IdentityRefusal::BadClaim,
                "email: not an e-mail address",
            ));
        }
        fields.insert(claim.to_string(), value);
    }
    Ok(Identity { sub, fields, exp })
}

/// Checks a channel's identity secret (its length); the error names the
/// field `identity_secret`.
pub fn check_secret(secret: &str) -> Result<(), ChannelsError> {
    if !(MIN_SECRET..=MAX_SECRET).contains(&secret.len()) {
        return Err(ChannelsError::Invalid {
            field: "identity_secret".into(),
            message: format!(
                "between {MIN_SECRET} and {MAX_SECRET} bytes (a random string of at least 32 characters)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn sign(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn reason(r: Result<Identity, ChannelsError>) -> IdentityRefusal {
        match r {
            Err(ChannelsError::Identity { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_token_signed_with_the_secret_is_the_customer() {
        let t = sign(
            json!({"sub": "c-42", "name": "Maria", "email": "maria@example.com", "exp": NOW + 600, "extra": 1}),
            SECRET,
        );
        let id = verify(&t, SECRET, NOW).unwrap();
        assert_eq!(id.sub, "c-42");
        assert_eq!(id.customer("site"), "site:c-42");
        assert_eq!(id.fields["name"], "Maria");
        assert_eq!(id.fields["email"], "maria@example.com");
        assert!(!id.fields.contains_key("phone"));
        assert!(!anonymous_customer("ab12").contains(':'));
    }

    #[test]
    fn forged_expired_long_lived_and_garbage_tokens_say_why() {
        let good = json!({"sub": "c-42", "exp": NOW + 600});
        let other = "another-secret-of-32-bytes-long!";
        assert_eq!(
            reason(verify(&sign(good.clone(), other), SECRET, NOW)),
            IdentityRefusal::BadSignature
        );
        assert_eq!(
            reason(verify(
                &sign(json!({"sub": "c", "exp": NOW - 3600}), SECRET),
                SECRET,
                NOW
            )),
            IdentityRefusal::Expired
        );
        // Within the leeway: still taken.
        verify(
            &sign(json!({"sub": "c", "exp": NOW - 30}), SECRET),
            SECRET,
            NOW,
        )
        .unwrap();
        assert_eq!(
            reason(verify(
                &sign(json!({"sub": "c", "exp": NOW + 2 * 86_400}), SECRET),
                SECRET,
                NOW
            )),
            IdentityRefusal::TooLongLived
        );
        for garbage in ["", "garbage", "a.b.c", &"x".repeat(MAX_TOKEN + 1)] {
            assert_eq!(
                reason(verify(garbage, SECRET, NOW)),
                IdentityRefusal::Malformed,
                "{garbage:.20}"
            );
        }
        // Another algorithm (here HS512 with the right secret): refused.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &good,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            reason(verify(&hs512, SECRET, NOW)),
            IdentityRefusal::Malformed
        );
        // The "none" algorithm, unsigned: refused.
        let signed = sign(good, SECRET);
        let payload = signed.split('.').nth(1).unwrap();
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(
            reason(verify(&unsigned, SECRET, NOW)),
            IdentityRefusal::Malformed
        );
        for claims in [
            json!({"exp": NOW + 600}),
            json!({"sub": "", "exp": NOW + 600}),
            json!({"sub": "c"}),
            json!({"sub": "c", "exp": "tomorrow"}),
            json!({"sub": 42, "exp": NOW + 600}),
            json!({"sub": "c", "exp": NOW + 600, "email": "not-an-address"}),
            json!({"sub": "x".repeat(MAX_SUB + 1), "exp": NOW + 600}),
        ] {
            assert_eq!(
                reason(verify(&sign(claims.clone(), SECRET), SECRET, NOW)),
                IdentityRefusal::BadClaim,
                "{claims}"
            );
        }
    }

    #[test]
    fn secrets_are_long_enough() {
        assert!(check_secret(SECRET).is_ok());
        assert!(
            matches!(check_secret("short"), Err(ChannelsError::Invalid { field, .. }) if field == "identity_secret")
        );
    }
}
