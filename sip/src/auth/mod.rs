//! Digest authentication of agents' softphones: the user table, nonces,
//! lockouts, and the decision for one request.
//!
//! Decisions the RFCs leave to us:
//!
//! - **qop=auth is required.** Credentials without `qop` (RFC 2069 style) get
//!   a fresh challenge: without `nc` there is no replay protection, and every
//!   softphone in use sends `qop=auth` when the challenge offers it.
//! - **Unknown user and wrong password look the same**: a 401 with a fresh
//!   challenge, after the same hash work (a dummy secret for unknown users).
//! - **Lockout is invisible**: a locked source (or user) gets exactly the 401
//!   a wrong password gets, even with the right password.
//! - **Per-source and per-user lockouts.** Failures count per source address
//!   (any user) and per known user (any address). A user lockout does not
//!   apply to addresses the user authenticated from in the last 24 h, so a
//!   flood against an extension from elsewhere cannot lock the agent out of
//!   the phone they already use; a fresh address must wait it out. Failures
//!   from those known addresses count for the address only. A flood from one
//!   address locks that address long before the user threshold, and requests
//!   refused because their address is locked do not count for the user.
//! - A success forgets the address's and the user's failure counts (a phone
//!   with a mistyped password that is then fixed starts afresh).
//! - Credentials that cannot be a password guess (no header, another scheme
//!   or realm, an algorithm we do not offer, a nonce we did not issue, a
//!   replayed `nc`) get a fresh challenge and are not counted as failures
//!   (nonces are bound to the client's address, so only someone who receives
//!   at an address can make failures count against it);
//!   unparsable headers and a `uri` that is not the Request-URI get 400.
//! - `stale=true` is only sent when the response is right for an expired
//!   nonce (RFC 7616 §3.3), so it reveals nothing a fresh challenge would not.

pub mod digest;
pub mod lockout;
pub mod nonce;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use digest::{Algorithm, Credentials};
use lockout::{Lockout, LockoutPolicy};
use nonce::{NonceStatus, Nonces};

/// The realm used until [`Authenticator::set_realm`] says otherwise.
pub const DEFAULT_REALM: &str = "ura";
/// How long an address stays "known good" for a user after a success.
const KNOWN_SOURCE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most known-good addresses remembered per user.
const KNOWN_SOURCES_PER_USER: usize = 16;

/// Tunables of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// How long a nonce is good for (then `stale=true`).
    pub nonce_lifetime: Duration,
    /// Most nonces tracked for replay protection.
    pub nonce_capacity: usize,
    /// Lockout per source address.
    pub per_source: LockoutPolicy,
    /// Lockout per user.
    pub per_user: LockoutPolicy,
    /// Which digest challenges a 401 carries, in order.
    pub offer: DigestOffer,
}

/// The digest challenges offered, in order (RFC 8760 lets a server offer
/// several; the client answers one it supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestOffer {
    /// MD5, then SHA-256 (the default): phones that answer the first
    /// challenge they see still work, phones that prefer SHA-256 find it.
    #[default]
    Md5ThenSha256,
    /// SHA-256, then MD5: RFC 8760's order of preference.
    Sha256ThenMd5,
    /// MD5 only: for softphones that give up when any challenge names an
    /// algorithm they lack (baresip 1.0 of Debian 12, on libre 1).
    Md5,
    /// SHA-256 only.
    Sha256,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            nonce_lifetime: nonce::DEFAULT_LIFETIME,
            nonce_capacity: nonce::DEFAULT_CAPACITY,
            per_source: LockoutPolicy::per_source(),
            per_user: LockoutPolicy::per_user(),
            offer: DigestOffer::default(),
        }
    }
}

/// What a lockout was keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutScope {
    /// The source address.
    Source,
    /// The user, from addresses not known for it.
    User,
}

/// A lockout that just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutNotice {
    /// Source address or user.
    pub scope: LockoutScope,
    /// Where the failure that triggered it came from.
    pub source: IpAddr,
    /// The user it named (None when no credentials named one).
    pub user: Option<String>,
    /// Locked until.
    pub until: Instant,
    /// Failures counted for the key.
    pub failures: u32,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid credentials for this user.
    Accepted(String),
    /// Answer 401 with a fresh challenge (`stale` as given).
    Challenge {
        /// Send `stale=true`.
        stale: bool,
    },
    /// Answer 400 with this reason.
    BadRequest(&'static str),
}

#[derive(Debug, Clone)]
struct Secret {
    md5: String,
    sha256: String,
}

impl Secret {
    fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.md5,
            Algorithm::Sha256 => &self.sha256,
        }
    }
}

/// Users, nonces and lockouts. Owned by the endpoint.
#[derive(Debug)]
pub struct Authenticator {
    realm: String,
    /// None until users are configured: no authentication, no registrar.
    users: Option<HashMap<String, Secret>>,
    dummy: Secret,
    nonces: Nonces,
    by_source: Lockout<IpAddr>,
    by_user: Lockout<String>,
    known_sources: HashMap<String, Vec<(IpAddr, Instant)>>,
    offer: DigestOffer,
}

impl Authenticator {
    /// A new authenticator whose nonce key comes from `seed`.
    pub fn new(seed: u64) -> Authenticator {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x6e6f_6e63_655f_6b65);
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        let policy = AuthPolicy::default();
        let dummy_pw = format!("{:032x}", rng.u128(..));
        Authenticator {
            realm: DEFAULT_REALM.to_string(),
            users: None,
            dummy: secret("", DEFAULT_REALM, &dummy_pw),
            nonces: Nonces::new(key),
            by_source: Lockout::new(policy.per_source),
            by_user: Lockout::new(policy.per_user),
            known_sources: HashMap::new(),
            offer: policy.offer,
        }
    }

    /// True once users have been configured.
    pub fn enabled(&self) -> bool {
        self.users.is_some()
    }

    /// The realm in challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Is `user` one of the configured users?
    pub fn is_user(&self, user: &str) -> bool {
        self.users.as_ref().is_some_and(|u| u.contains_key(user))
    }

    /// Replaces the user table; returns the users that are gone.
    pub fn set_users(&mut self, users: Vec<(String, String)>) -> Vec<String> {
        let old: Vec<String> = self
            .users
            .as_ref()
            .map(|u| u.keys().cloned().collect())
            .unwrap_or_default();
        let table: HashMap<String, Secret> = users
            .iter()
            .map(|(u, p)| (u.clone(), secret(u, &self.realm, p)))
            .collect();
        let gone = old.into_iter().filter(|u| !table.contains_key(u)).collect();
        self.known_sources.retain(|u, _| table.contains_key(u));
        self.users = Some(table);
        gone
    }

    /// Changes the realm. Only hashes of the passwords are kept, and they
    /// depend on the realm, so this applies to users set afterwards: call it
    /// before [`set_users`](Self::set_users).
    pub fn set_realm(&mut self, realm: &str) {
        self.realm = realm.to_string();
    }

    /// Replaces the tunables.
    pub fn set_policy(&mut self, policy: AuthPolicy) {
        self.nonces
            .configure(policy.nonce_lifetime, policy.nonce_capacity);
        self.by_source.set_policy(policy.per_source);
        self.by_user.set_policy(policy.per_user);
        self.offer = policy.offer;
    }

    /// The `WWW-Authenticate` values to send, as [`AuthPolicy::offer`] says.
    pub fn challenges(
        &mut self,
        now: Instant,
        rng: &mut fastrand::Rng,
        client: IpAddr,
        stale: bool,
    ) -> Vec<String> {
        let algorithms: &[Algorithm] = match self.offer {
            DigestOffer::Md5ThenSha256 => &[Algorithm::Md5, Algorithm::Sha256],
            DigestOffer::Sha256ThenMd5 => &[Algorithm::Sha256, Algorithm::Md5],
            DigestOffer::Md5 => &[Algorithm::Md5],
            DigestOffer::Sha256 => &[Algorithm::Sha256],
        };
        algorithms
            .iter()
            .map(|a| {
                let nonce = self.nonces.issue(now, rng, client);
                digest::challenge(&self.realm, &nonce, *a, stale)
            })
            .collect()
    }

    /// Remembers that `user` is reachable from `ip` (a success, or a restored binding).
    pub fn remember_source(&mut self, now: Instant, user: &str, ip: IpAddr) {
        let list = self.known_sources.entry(user.to_string()).or_default();
        list.retain(|(i, at)| *i != ip && now.saturating_duration_since(*at) < KNOWN_SOURCE_TTL);
        if list.len() >= KNOWN_SOURCES_PER_USER {
            list.remove(0);
        }
        list.push((ip, now));
    }

    fn known_source(&self, now: Instant, user: &str, ip: IpAddr) -> bool {
        self.known_sources.get(user).is_some_and(|l| {
            l.iter()
                .any(|(i, at)| *i == ip && now.saturating_duration_since(*at) < KNOWN_SOURCE_TTL)
        })
    }

    /// Decides on a request's `Authorization` header. `expected_user`, when
    /// given, must be the credentials' username (the From user of an INVITE,
    /// the To user of a REGISTER). Lockouts that start are pushed to `notices`.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &mut self,
        now: Instant,
        source: IpAddr,
        method: &str,
        request_uri: &str,
        header: Option<&str>,
        expected_user: Option<&str>,
        notices: &mut Vec<LockoutNotice>,
    ) -> Verdict {
        let fresh = Verdict::Challenge { stale: false };
        let Some(header) = header else {
            return fresh;
        };
        if !digest::is_digest(header) {
            return fresh;
        }
        let Ok(creds) = digest::parse_credentials(header) else {
            return Verdict::BadRequest("Bad Authorization header");
        };
        let Some(alg) = Algorithm::from_token(creds.algorithm.as_deref()) else {
            return fresh;
        };
        if creds.realm != self.realm
            || creds
                .qop
                .as_deref()
                .is_none_or(|q| !q.eq_ignore_ascii_case("auth"))
        {
            return fresh;
        }
        if creds.uri != request_uri {
            return Verdict::BadRequest("Digest uri does not match the Request-URI");
        }
        let (Some(nc), Some(cnonce)) = (creds.nc_value(), creds.cnonce.as_deref()) else {
            return Verdict::BadRequest("Bad nc or cnonce");
        };
        let status = self.nonces.status(now, &creds.nonce, source);
        if status == NonceStatus::Invalid {
            return fresh;
        }
        let user = creds.username.clone();
        let known = self.is_user(&user);
        let source_locked = self.by_source.locked_until(now, &source).is_some();
        let user_locked = known
            && self.by_user.locked_until(now, &user).is_some()
            && !self.known_source(now, &user, source);
        let right = self.response_matches(&creds, alg, cnonce, method)
            && known
            && expected_user.is_none_or(|e| e == user);
        if source_locked {
            // Counted for the address only: one flooding address must not
            // push the user towards its own lockout.
            let _ = self.by_source.record_failure(now, &source);
            return fresh;
        }
        if user_locked || !right {
            self.failure(now, source, &user, known, notices);
            return fresh;
        }
        if status == NonceStatus::Stale {
            return Verdict::Challenge { stale: true };
        }
        if !self.nonces.accept_nc(now, &creds.nonce, nc, source) {
            return fresh;
        }
        self.by_source.record_success(&source);
        self.by_user.record_success(&user);
        self.remember_source(now, &user, source);
        Verdict::Accepted(user)
    }

    fn response_matches(
        &self,
        c: &Credentials,
        alg: Algorithm,
        cnonce: &str,
        method: &str,
    ) -> bool {
        let secret = self
            .users
            .as_ref()
            .and_then(|u| u.get(&c.username))
            .unwrap_or(&self.dummy);
        let nc = c.nc.as_deref().unwrap_or("");
        let expected = digest::response(
            alg,
            secret.ha1(alg),
            &c.nonce,
            Some((nc, cnonce, c.qop.as_deref().unwrap_or("auth"))),
            method,
            &c.uri,
        );
        digest::constant_time_eq(&expected, &c.response)
    }

    fn failure(
        &mut self,
        now: Instant,
        source: IpAddr,
        user: &str,
        known: bool,
        notices: &mut Vec<LockoutNotice>,
    ) {
        let named = (!user.is_empty()).then(|| user.to_string());
        if let Some(l) = self.by_source.record_failure(now, &source) {
            notices.push(LockoutNotice {
                scope: LockoutScope::Source,
                source,
                user: named.clone(),
                until: l.until,
                failures: l.failures,
            });
        }
        // Only known users are counted: unknown names would fill the map.
        if known && !self.known_source(now, user, source) {
            if let Some(l) = self.by_user.record_failure(now, &user.to_string()) {
                notices.push(LockoutNotice {
                    scope: LockoutScope::User,
                    source,
                    user: named,
                    until: l.until,
                    failures: l.failures,
                });
            }
        }
    }
}

fn secret(user: &str, realm: &str, password: &str) -> Secret {
    Secret {
        md5: digest::ha1(Algorithm::Md5, user, realm, password),
        sha256: digest::ha1(Algorithm::Sha256, user, realm, password),
    }
}
