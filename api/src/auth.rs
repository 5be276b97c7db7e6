//! API keys: `ura_` and 40 random hex digits, shown once; the store keeps
//! the SHA-256 of the key and its first 12 characters (to list and revoke
//! it). A key acts for one company, or for all (super-admin).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use ura_store::{ApiKey, Store};

use crate::error::ApiError;
use crate::Api;

/// Characters of a key kept in clear, to list and revoke it.
pub const PREFIX_LEN: usize = 12;

/// Who is calling: the company the key acts for (`None`: every company).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's company; `None` for a super-admin key.
    pub company: Option<String>,
    /// The key's prefix (for logs).
    pub prefix: String,
}

impl Caller {
    /// Whether this caller may see or change `company`'s objects.
    pub fn may(&self, company: &str) -> bool {
        self.company.as_deref().is_none_or(|c| c == company)
    }

    /// The company a new object goes to: the key's own, or the one named
    /// (super-admin; `default` when none is named).
    pub fn company_for(&self, named: Option<&str>) -> Result<String, ApiError> {
        match (&self.company, named) {
            (Some(own), None) => Ok(own.clone()),
            (Some(own), Some(n)) if n == own => Ok(own.clone()),
            (Some(_), Some(_)) => Err(ApiError::Forbidden(
                "this key acts for one company; leave `company` out or name that one".into(),
            )),
            (None, n) => Ok(n.unwrap_or(crate::docs::DEFAULT_COMPANY).to_string()),
        }
    }
}

/// The SHA-256 of a key, hex.
pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes a key for `company` (`None`: super-admin), keeps its hash and
/// returns the key: the only time it is seen.
pub async fn create_key(
    store: &Store,
    company: Option<&str>,
    name: &str,
) -> Result<(String, ApiKey), ApiError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Unavailable(format!("no random numbers: {e}")))?;
    let key: String = std::iter::once("ura_".to_string())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let record = ApiKey {
        prefix: key[..PREFIX_LEN].to_string(),
        company: company.map(str::to_string),
        name: name.to_string(),
        hash: hash(&key),
        created_at: crate::now(),
        revoked_at: None,
    };
    store.insert_api_key(&record).await?;
    Ok((key, record))
}

/// The caller a key belongs to, if it is live: one indexed row found by
/// the key's SHA-256 (no key is kept in clear, so there is nothing to
/// compare byte by byte).
pub async fn check_key(store: &Store, key: &str) -> Result<Caller, ApiError> {
    store
        .live_api_key(&hash(key))
        .await?
        .map(|k| Caller {
            company: k.company,
            prefix: k.prefix,
        })
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".into()))
}

impl<B: crate::Backend> FromRequestParts<Api<B>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api<B>) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized("send `Authorization: Bearer <API key>`".into())
            })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 128)
            .ok_or_else(|| {
                ApiError::Unauthorized("send `Authorization: Bearer <API key>`".into())
            })?;
        check_key(api.store(), key).await
    }
}
