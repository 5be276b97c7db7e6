//! The endpoint as a registrar for agents' phones, and digest challenges for
//! INVITEs from agents. See [`crate::auth`] for the authentication decisions
//! and [`crate::registrar`] for bindings.
//!
//! Registration is off until [`Endpoint::set_users`] is called: until then
//! REGISTER gets 405 and no INVITE is challenged.
//!
//! Choices made here:
//!
//! - The address-of-record is the user part of To; it must be the
//!   authenticated user (else 403, sent only after authentication).
//! - Contact `expires` wins over `Expires`; neither means 3600 s; more than
//!   7200 s is cut to 7200; 1-59 s refuses the whole REGISTER with 423 and
//!   `Min-Expires: 60`. `Contact: *` needs `Expires: 0` and no other contact.
//! - A REGISTER with the Call-ID of a binding and a CSeq not above it changes
//!   nothing and gets 500 (RFC 3261 §10.3 step 7 says it fails; no code is
//!   given). Retransmissions never get there: the transaction answers them.
//! - The 200 lists every binding of the user with its remaining seconds,
//!   rounded up.
//! - INVITEs are challenged only when the From user is a configured user, as
//!   callers from outside cannot authenticate. That tells a prober which From
//!   users are agents (401 instead of a call); REGISTER does not leak it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{Endpoint, Event, TxKey};
use crate::auth::{AuthPolicy, LockoutNotice, Verdict};
use crate::builder::ResponseSpec;
use crate::message::{self, split_commas, Message};
use crate::registrar::{
    Binding, Change, ContactUpdate, Refusal, UnregisterReason, DEFAULT_EXPIRES, MAX_EXPIRES,
    MIN_EXPIRES,
};
use crate::transport::Flow;

/// What a REGISTER asks for, read before authentication decides.
enum Wanted {
    /// No Contact: list the bindings.
    Query,
    /// `Contact: *` with `Expires: 0`.
    RemoveAll,
    /// These contacts.
    Update(Vec<ContactUpdate>),
}

impl Endpoint {
    /// Sets the agents who may register (user name, password), replacing
    /// the previous set (config reload). Only digests of the passwords are
    /// kept. Bindings of users no longer in the set are dropped and reported
    /// as [`Event::Unregistered`] with [`UnregisterReason::Removed`].
    pub fn set_users<I, U, P>(&mut self, users: I)
    where
        I: IntoIterator<Item = (U, P)>,
        U: Into<String>,
        P: Into<String>,
    {
        let users = users
            .into_iter()
            .map(|(u, p)| (u.into(), p.into()))
            .collect();
        for user in self.auth.set_users(users) {
            for contact in self.registrar.forget_user(&user) {
                self.event(Event::Unregistered {
                    user: user.clone(),
                    contact,
                    reason: UnregisterReason::Removed,
                });
            }
        }
    }

    /// Sets the digest realm (default `ura`). Call it before
    /// [`set_users`](Self::set_users): the stored digests depend on it.
    pub fn set_realm(&mut self, realm: &str) {
        self.auth.set_realm(realm);
    }

    /// Replaces nonce lifetime and lockout tunables.
    pub fn set_auth_policy(&mut self, policy: AuthPolicy) {
        self.auth.set_policy(policy);
    }

    /// The bindings of `user` (contact, flow, expiry).
    pub fn bindings(&self, user: &str) -> Vec<Binding> {
        self.registrar.all(user)
    }

    /// Puts back a binding the engine saved (at start-up): `user` is
    /// reachable at `contact` through `flow` for `remaining` more time.
    /// Emits [`Event::Registered`]; any REGISTER from the phone replaces it.
    pub fn restore_binding(
        &mut self,
        now: Instant,
        user: &str,
        contact: &str,
        flow: Flow,
        remaining: Duration,
    ) {
        let b = self.registrar.restore(now, user, contact, flow, remaining);
        self.auth.remember_source(now, user, flow.remote.ip());
        self.event(Event::Registered {
            user: user.to_string(),
            contact: b.contact,
            flow: b.flow,
            expires_at: b.expires_at,
        });
    }

    /// Drops bindings whose time is up.
    pub(super) fn expire_bindings(&mut self, now: Instant) {
        for (user, contact) in self.registrar.expire(now) {
            self.event(Event::Unregistered {
                user,
                contact,
                reason: UnregisterReason::Expired,
            });
        }
    }

    fn lockout_events(&mut self, notices: Vec<LockoutNotice>) {
        for n in notices {
            tracing::warn!(source = %n.source, user = ?n.user, scope = ?n.scope, failures = n.failures, "authentication lockout");
            self.event(Event::AuthLockout {
                scope: n.scope,
                source: n.source,
                user: n.user,
                until: n.until,
                failures: n.failures,
            });
        }
    }

    /// The 401 (fresh nonces) or 400 for a request that did not authenticate.
    fn auth_failure_spec(
        &mut self,
        now: Instant,
        client: IpAddr,
        verdict: &Verdict,
    ) -> ResponseSpec<'static> {
        match verdict {
            Verdict::BadRequest(reason) => {
                let mut spec = ResponseSpec::new(400);
                spec.reason = Some(reason);
                spec
            }
            Verdict::Challenge { stale } => {
                let mut spec = ResponseSpec::new(401);
                spec.reason = Some("Unauthorized");
                for c in self.auth.challenges(now, &mut self.rng, client, *stale) {
                    spec.headers.push(("WWW-Authenticate", c));
                }
                spec
            }
            Verdict::Accepted(_) => ResponseSpec::new(500),
        }
    }

    /// For a new INVITE: `Some(user)` when its From user is a configured
    /// user with valid credentials, `Some(None)` when it is no such user (not
    /// challenged), `None` when it was answered here (401/400).
    pub(super) fn authenticate_invite(
        &mut self,
        now: Instant,
        source: Flow,
        key: &TxKey,
        msg: &Message,
    ) -> Option<Option<String>> {
        if !self.auth.enabled() {
            return Some(None);
        }
        let from_user = msg
            .header("From")
            .and_then(|f| message::uri_user(message::name_addr_uri(f)));
        let Some(from_user) = from_user.filter(|u| self.auth.is_user(u)) else {
            return Some(None);
        };
        let mut notices = Vec::new();
        let verdict = self.auth.check(
            now,
            source.remote.ip(),
            "INVITE",
            msg.request_uri().unwrap_or(""),
            msg.header("Authorization"),
            Some(&from_user),
            &mut notices,
        );
        self.lockout_events(notices);
        if let Verdict::Accepted(user) = verdict {
            return Some(Some(user));
        }
        let tag = self.token(10);
        let mut spec = self.auth_failure_spec(now, source.remote.ip(), &verdict);
        spec.to_tag = Some(&tag);
        let id = self.new_server_tx(source, key.clone(), msg.clone(), None);
        self.respond(now, id, spec);
        None
    }

    /// A REGISTER (RFC 3261 §10.3), with digest authentication first.
    pub(super) fn handle_register(&mut self, now: Instant, source: Flow, key: TxKey, msg: Message) {
        let tag = self.token(10);
        let mut notices = Vec::new();
        let verdict = self.auth.check(
            now,
            source.remote.ip(),
            "REGISTER",
            msg.request_uri().unwrap_or(""),
            msg.header("Authorization"),
            None,
            &mut notices,
        );
        self.lockout_events(notices);
        let to_user = msg
            .header("To")
            .and_then(|t| message::uri_user(message::name_addr_uri(t)));
        let call_id = msg.call_id().unwrap_or("").to_string();
        let cseq = msg.cseq().map_or(0, |c| c.0);
        let wanted = read_contacts(&msg);
        let id = self.new_server_tx(source, key, msg, None);
        let user = match verdict {
            Verdict::Accepted(user) => user,
            other => {
                let mut spec = self.auth_failure_spec(now, source.remote.ip(), &other);
                spec.to_tag = Some(&tag);
                return self.respond(now, id, spec);
            }
        };
        let mut spec = ResponseSpec::new(200);
        spec.to_tag = Some(&tag);
        if to_user.as_deref() != Some(user.as_str()) {
            // Authenticated, but for someone else's address-of-record.
            spec.code = 403;
            return self.respond(now, id, spec);
        }
        let wanted = match wanted {
            Ok(w) => w,
            Err(code_reason) => {
                spec.code = code_reason.0;
                spec.reason = Some(code_reason.1);
                if code_reason.0 == 423 {
                    spec.headers.push(("Min-Expires", MIN_EXPIRES.to_string()));
                }
                return self.respond(now, id, spec);
            }
        };
        let result = match wanted {
            Wanted::Query => Ok(Vec::new()),
            Wanted::RemoveAll => self
                .registrar
                .remove_all(now, &user, &call_id, cseq)
                .map(|v| v.into_iter().map(Change::Removed).collect()),
            Wanted::Update(contacts) => self
                .registrar
                .update(now, &user, source, &call_id, cseq, &contacts),
        };
        match result {
            Err(Refusal::OutOfOrder) => {
                spec.code = 500;
                spec.reason = Some("Out of order CSeq");
                spec.headers.push(("Retry-After", "1".to_string()));
                return self.respond(now, id, spec);
            }
            Ok(changes) => {
                for change in changes {
                    let event = match change {
                        Change::Added(b) => Event::Registered {
                            user: user.clone(),
                            contact: b.contact,
                            flow: b.flow,
                            expires_at: b.expires_at,
                        },
                        Change::Removed(contact) => Event::Unregistered {
                            user: user.clone(),
                            contact,
                            reason: UnregisterReason::Removed,
                        },
                    };
                    self.event(event);
                }
            }
        }
        for b in self.registrar.bindings(now, &user) {
            let left = b.expires_at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            spec.headers
                .push(("Contact", format!("<{}>;expires={secs}", b.contact)));
        }
        self.respond(now, id, spec);
    }
}

/// Reads the Contact and Expires headers of a REGISTER; `Err((code, reason))`
/// for what must be refused.
fn read_contacts(msg: &Message) -> Result<Wanted, (u16, &'static str)> {
    let expires_header = match msg.header("Expires") {
        None => None,
        Some(v) => Some(parse_expires(v).ok_or((400, "Bad Expires"))?),
    };
    let values: Vec<&str> = msg
        .headers_named("Contact")
        .flat_map(split_commas)
        .collect();
    if values.is_empty() {
        return Ok(Wanted::Query);
    }
    if values.iter().any(|v| v.trim() == "*") {
        return if values.len() == 1 && expires_header == Some(0) {
            Ok(Wanted::RemoveAll)
        } else {
            Err((400, "Bad wildcard Contact"))
        };
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let uri = message::name_addr_uri(v).trim();
        if uri.is_empty() || !uri.contains(':') || uri.contains(['<', '>', ' ']) {
            return Err((400, "Bad Contact"));
        }
        let expires = match message::param(v, "expires") {
            Some(e) => parse_expires(e).ok_or((400, "Bad Contact expires"))?,
            None => expires_header.unwrap_or(DEFAULT_EXPIRES),
        };
        if expires != 0 && expires < MIN_EXPIRES {
            return Err((423, "Interval Too Brief"));
        }
        out.push(ContactUpdate {
            contact: uri.to_string(),
            expires: expires.min(MAX_EXPIRES),
        });
    }
    if out.len() > 32 {
        return Err((400, "Too many contacts"));
    }
    Ok(Wanted::Update(out))
}

/// Delta-seconds; values beyond u32 are capped (RFC 3261 §20.19 allows it).
fn parse_expires(v: &str) -> Option<u32> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .map_or(u32::MAX, |n| n.min(u64::from(u32::MAX)) as u32),
    )
}

#[cfg(test)]
mod tests;
