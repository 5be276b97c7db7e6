//! Bindings of agents' phones: for each user (the address-of-record is the
//! user name, e.g. the extension) the contacts it registered, with their
//! expiry, the REGISTER's Call-ID/CSeq (RFC 3261 §10.3) and the [`Flow`] the
//! REGISTER came from, so that ura can call the agent back through its NAT.
//!
//! Contacts are compared as written (the URI inside `<>`, parameters
//! included). A TCP connection closing does not drop a binding: the phone
//! re-registers on a new connection, and until then calls to it fail the way
//! they would for a phone that went away.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use crate::transport::Flow;

/// Default registration interval when the phone asks for none.
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Shortest interval accepted (else `423 Interval Too Brief`).
pub const MIN_EXPIRES: u32 = 60;
/// Longest interval granted (longer requests are cut to this).
pub const MAX_EXPIRES: u32 = 7200;
/// Most contacts per user; a new one beyond this replaces the one expiring first.
pub const MAX_CONTACTS_PER_USER: usize = 10;

/// One registered contact of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI (without `<>`).
    pub contact: String,
    /// Where the REGISTER came from: call the agent back on it.
    pub flow: Flow,
    /// When the binding lapses.
    pub expires_at: Instant,
    /// Call-ID of the REGISTER that made or refreshed it.
    pub call_id: String,
    /// Its CSeq.
    pub cseq: u32,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnregisterReason {
    /// The phone removed it (`Expires: 0`, `Contact: *`), a newer contact
    /// pushed it out, or its user was removed from the configuration.
    Removed,
    /// It was not refreshed in time.
    Expired,
}

/// What changed, for events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Added or refreshed.
    Added(Binding),
    /// Removed by request.
    Removed(String),
}

/// One contact of a REGISTER, as the registrar needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactUpdate {
    /// Contact URI.
    pub contact: String,
    /// Granted seconds (0: remove).
    pub expires: u32,
}

/// Why an update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Same Call-ID with a CSeq not higher than the stored one.
    OutOfOrder,
}

/// All bindings, with their expiry timers.
#[derive(Debug, Default)]
pub struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
    timers: BinaryHeap<Reverse<(Instant, String, String)>>,
}

impl Registrar {
    /// Empty.
    pub fn new() -> Registrar {
        Registrar::default()
    }

    /// The bindings of `user` (expired ones leave at [`expire`](Self::expire)).
    pub fn all(&self, user: &str) -> Vec<Binding> {
        self.bindings.get(user).cloned().unwrap_or_default()
    }

    /// The current bindings of `user` at `now`.
    pub fn bindings(&self, now: Instant, user: &str) -> Vec<Binding> {
        self.bindings
            .get(user)
            .map(|v| v.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// Number of bindings of all users.
    pub fn len(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// True when nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Applies a REGISTER's contacts atomically (RFC 3261 §10.3 steps 6-7):
    /// all or nothing.
    pub fn update(
        &mut self,
        now: Instant,
        user: &str,
        flow: Flow,
        call_id: &str,
        cseq: u32,
        contacts: &[ContactUpdate],
    ) -> Result<Vec<Change>, Refusal> {
        let current = self.bindings(now, user);
        for c in contacts {
            if let Some(b) = current.iter().find(|b| b.contact == c.contact) {
                if b.call_id == call_id && cseq <= b.cseq {
                    return Err(Refusal::OutOfOrder);
                }
            }
        }
        let mut changes = Vec::new();
        let list = self.bindings.entry(user.to_string()).or_default();
        list.retain(|b| b.expires_at > now);
        for c in contacts {
            let existing = list.iter().position(|b| b.contact == c.contact);
            if c.expires == 0 {
                if let Some(i) = existing {
                    list.remove(i);
                    changes.push(Change::Removed(c.contact.clone()));
                }
                continue;
            }
            let b = Binding {
                contact: c.contact.clone(),
                flow,
                expires_at: now + Duration::from_secs(u64::from(c.expires)),
                call_id: call_id.to_string(),
                cseq,
            };
            match existing {
                Some(i) => list[i] = b.clone(),
                None => {
                    if list.len() >= MAX_CONTACTS_PER_USER {
                        if let Some(i) = (0..list.len()).min_by_key(|&i| list[i].expires_at) {
                            let gone = list.remove(i);
                            changes.push(Change::Removed(gone.contact));
                        }
                    }
                    list.push(b.clone());
                }
            }
            self.timers
                .push(Reverse((b.expires_at, user.to_string(), b.contact.clone())));
            changes.push(Change::Added(b));
        }
        if list.is_empty() {
            self.bindings.remove(user);
        }
        Ok(changes)
    }

    /// Removes every binding of `user` (`Contact: *`), subject to the same
    /// Call-ID/CSeq rule; returns the removed contacts.
    pub fn remove_all(
        &mut self,
        now: Instant,
        user: &str,
        call_id: &str,
        cseq: u32,
    ) -> Result<Vec<String>, Refusal> {
        let current = self.bindings(now, user);
        if current
            .iter()
            .any(|b| b.call_id == call_id && cseq <= b.cseq)
        {
            return Err(Refusal::OutOfOrder);
        }
        Ok(self
            .bindings
            .remove(user)
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.expires_at > now)
            .map(|b| b.contact)
            .collect())
    }

    /// Drops every binding of `user` regardless of CSeq (the user was removed).
    pub fn forget_user(&mut self, user: &str) -> Vec<String> {
        self.bindings
            .remove(user)
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.contact)
            .collect()
    }

    /// Puts back a binding saved earlier, for `remaining` more time (at most
    /// [`MAX_EXPIRES`]). Any REGISTER from the phone replaces it (its
    /// Call-ID is empty).
    pub fn restore(
        &mut self,
        now: Instant,
        user: &str,
        contact: &str,
        flow: Flow,
        remaining: Duration,
    ) -> Binding {
        let b = Binding {
            contact: contact.to_string(),
            flow,
            expires_at: now + remaining.min(Duration::from_secs(u64::from(MAX_EXPIRES))),
            call_id: String::new(),
            cseq: 0,
        };
        let list = self.bindings.entry(user.to_string()).or_default();
        list.retain(|x| x.contact != contact);
        list.push(b.clone());
        self.timers
            .push(Reverse((b.expires_at, user.to_string(), b.contact.clone())));
        b
    }

    /// When [`expire`](Self::expire) should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Removes bindings whose time is up at `now`; returns (user, contact).
    pub fn expire(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut gone = Vec::new();
        while let Some(Reverse((t, _, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, user, contact))) = self.timers.pop() else {
                break;
            };
            let Some(list) = self.bindings.get_mut(&user) else {
                continue;
            };
            // Only if the binding still ends at this time (not refreshed).
            if let Some(i) = list
                .iter()
                .position(|b| b.contact == contact && b.expires_at == t)
            {
                list.remove(i);
                gone.push((user.clone(), contact));
            }
            if list.is_empty() {
                self.bindings.remove(&user);
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow::udp("192.0.2.1:5060".parse().unwrap())
    }

    fn c(contact: &str, expires: u32) -> ContactUpdate {
        ContactUpdate {
            contact: contact.into(),
            expires,
        }
    }

    #[test]
    fn refresh_remove_and_out_of_order() {
        let t0 = Instant::now();
        let mut r = Registrar::new();
        r.update(t0, "1001", flow(), "cid", 1, &[c("sip:a@h", 60)])
            .unwrap();
        assert_eq!(
            r.update(t0, "1001", flow(), "cid", 1, &[c("sip:a@h", 60)]),
            Err(Refusal::OutOfOrder)
        );
        r.update(t0, "1001", flow(), "cid", 2, &[c("sip:a@h", 120)])
            .unwrap();
        // The first timer is stale: nothing expires at 60 s.
        assert!(r.expire(t0 + Duration::from_secs(60)).is_empty());
        assert_eq!(r.bindings(t0, "1001").len(), 1);
        let gone = r.update(t0, "1001", flow(), "other", 1, &[c("sip:a@h", 0)]);
        assert_eq!(gone, Ok(vec![Change::Removed("sip:a@h".into())]));
        assert!(r.is_empty());
    }

    #[test]
    fn contacts_per_user_are_capped() {
        let t0 = Instant::now();
        let mut r = Registrar::new();
        for i in 0..=MAX_CONTACTS_PER_USER {
            r.update(
                t0,
                "u",
                flow(),
                &format!("c{i}"),
                1,
                &[c(&format!("sip:{i}@h"), 60 + i as u32)],
            )
            .unwrap();
        }
        assert_eq!(r.len(), MAX_CONTACTS_PER_USER);
        assert!(r.bindings(t0, "u").iter().all(|b| b.contact != "sip:0@h"));
    }
}
