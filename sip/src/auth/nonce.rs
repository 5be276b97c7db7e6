//! Nonces the server can check without remembering each one it issued, and
//! replay protection for the ones in use.
//!
//! A nonce is 64 hex digits: `issued_ms (8 bytes) ‖ random (8) ‖
//! HMAC-SHA-256(key, issued_ms ‖ random ‖ client IP)[..16]`. Binding the
//! nonce to the address it was sent to means a failure counted against an
//! address (see [`super::lockout`]) needs someone who can receive at that
//! address: a forged UDP source cannot lock an agent's address out with a
//! nonce fetched elsewhere. A phone whose address changes gets a fresh
//! challenge and retries on its own. `issued_ms` counts
//! milliseconds since an origin `Instant` (the first time the endpoint saw
//! `now`), so nothing here reads the clock. A nonce older than the lifetime
//! is *stale*: the client gets a new challenge with `stale=true`.
//!
//! Replay: for each nonce in use the highest `nc` seen is kept, and a request
//! must carry a higher one. Entries leave at the nonce's expiry; when the map
//! is full the oldest entry is dropped and every nonce issued at or before the
//! dropped one is treated as stale from then on, so dropping never reopens a
//! replay.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::digest::to_hex;

/// Default nonce lifetime.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Default most nonces tracked for replay protection.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// What a received nonce is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours and within its lifetime.
    Valid,
    /// Ours but too old (or pushed out of the replay map): answer `stale=true`.
    Stale,
    /// Not one of ours.
    Invalid,
}

#[derive(Debug)]
struct Seen {
    nc: u32,
    expires: Instant,
    issued_ms: u64,
}

/// Issues and checks nonces. See the module docs.
#[derive(Debug)]
pub struct Nonces {
    key: [u8; 32],
    origin: Option<Instant>,
    lifetime: Duration,
    capacity: usize,
    seen: HashMap<String, Seen>,
    order: VecDeque<String>,
    /// Nonces issued at or before this (ms) and not in `seen` are stale.
    floor_ms: Option<u64>,
}

impl Nonces {
    /// A nonce issuer with this HMAC key.
    pub fn new(key: [u8; 32]) -> Nonces {
        Nonces {
            key,
            origin: None,
            lifetime: DEFAULT_LIFETIME,
            capacity: DEFAULT_CAPACITY,
            seen: HashMap::new(),
            order: VecDeque::new(),
            floor_ms: None,
        }
    }

    /// Sets the lifetime (at most a day) and the replay-map capacity (at least 1).
    pub fn configure(&mut self, lifetime: Duration, capacity: usize) {
        self.lifetime = lifetime.min(Duration::from_secs(86_400));
        self.capacity = capacity.max(1);
    }

    /// Number of nonces tracked for replay protection.
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    fn ms(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn hmac(&self, head: &[u8], ip: IpAddr) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(head);
        match ip.to_canonical() {
            IpAddr::V4(v4) => mac.update(&v4.octets()),
            IpAddr::V6(v6) => mac.update(&v6.octets()),
        }
        mac
    }

    /// A new nonce, issued at `now` to a client at `ip`.
    pub fn issue(&mut self, now: Instant, rng: &mut fastrand::Rng, ip: IpAddr) -> String {
        let issued = self.ms(now).to_be_bytes();
        let random = rng.u64(..).to_be_bytes();
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&issued);
        head[8..].copy_from_slice(&random);
        let full = self.hmac(&head, ip).finalize().into_bytes();
        let mac = &full[..16];
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(mac);
        to_hex(&bytes)
    }

    /// When the nonce was issued (ms since the origin), if it is ours and
    /// was sent to `ip`.
    fn issued_ms(&self, nonce: &str, ip: IpAddr) -> Option<u64> {
        if nonce.len() != 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(nonce.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        self.hmac(&bytes[..16], ip)
            .verify_truncated_left(&bytes[16..])
            .ok()?;
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&bytes[..8]);
        Some(u64::from_be_bytes(issued))
    }

    /// Checks a nonce received at `now` from `ip`.
    pub fn status(&mut self, now: Instant, nonce: &str, ip: IpAddr) -> NonceStatus {
        let now_ms = self.ms(now);
        let Some(issued) = self.issued_ms(nonce, ip) else {
            return NonceStatus::Invalid;
        };
        if issued > now_ms {
            return NonceStatus::Invalid;
        }
        let lifetime = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        if now_ms - issued >= lifetime {
            return NonceStatus::Stale;
        }
        if self.floor_ms.is_some_and(|f| issued <= f) && !self.seen.contains_key(nonce) {
            return NonceStatus::Stale;
        }
        NonceStatus::Valid
    }

    /// Records `nc` for a valid nonce; false when it is not higher than the
    /// highest seen (a replay).
    pub fn accept_nc(&mut self, now: Instant, nonce: &str, nc: u32, ip: IpAddr) -> bool {
        self.purge(now);
        if let Some(seen) = self.seen.get_mut(nonce) {
            if nc <= seen.nc {
                return false;
            }
            seen.nc = nc;
            return true;
        }
        let Some(issued_ms) = self.issued_ms(nonce, ip) else {
            return false;
        };
        let origin = *self.origin.get_or_insert(now);
        let expires = origin
            .checked_add(Duration::from_millis(issued_ms))
            .and_then(|t| t.checked_add(self.lifetime))
            .unwrap_or(now);
        while self.seen.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.seen.remove(&oldest) {
                self.floor_ms = Some(self.floor_ms.unwrap_or(0).max(gone.issued_ms));
            }
        }
        if self.floor_ms.is_some_and(|f| issued_ms <= f) {
            return false;
        }
        self.seen.insert(
            nonce.to_string(),
            Seen {
                nc,
                expires,
                issued_ms,
            },
        );
        self.order.push_back(nonce.to_string());
        true
    }

    /// Forgets nonces past their lifetime.
    fn purge(&mut self, now: Instant) {
        while let Some(front) = self.order.front() {
            match self.seen.get(front) {
                Some(s) if s.expires > now => break,
                _ => {
                    if let Some(n) = self.order.pop_front() {
                        self.seen.remove(&n);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn issued_nonces_verify_and_expire() {
        let t0 = Instant::now();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut n = Nonces::new([7; 32]);
        let a = n.issue(t0, &mut rng, IP);
        assert_eq!(a.len(), 64);
        assert_eq!(n.status(t0, &a, IP), NonceStatus::Valid);
        assert_eq!(
            n.status(t0 + DEFAULT_LIFETIME - Duration::from_millis(1), &a, IP),
            NonceStatus::Valid
        );
        assert_eq!(n.status(t0 + DEFAULT_LIFETIME, &a, IP), NonceStatus::Stale);
        let mut forged = a.clone().into_bytes();
        forged[63] = if forged[63] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(n.status(t0, &forged, IP), NonceStatus::Invalid);
        assert_eq!(n.status(t0, "zz", IP), NonceStatus::Invalid);
        let other = Nonces::new([8; 32]).issue(t0, &mut rng, IP);
        assert_eq!(n.status(t0, &other, IP), NonceStatus::Invalid);
        let elsewhere: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(n.status(t0, &a, elsewhere), NonceStatus::Invalid);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(n.status(t0, &a, mapped), NonceStatus::Valid);
    }

    #[test]
    fn nc_must_grow_and_eviction_makes_old_nonces_stale() {
        let t0 = Instant::now();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut n = Nonces::new([7; 32]);
        n.configure(DEFAULT_LIFETIME, 2);
        let a = n.issue(t0, &mut rng, IP);
        assert!(n.accept_nc(t0, &a, 1, IP));
        assert!(!n.accept_nc(t0, &a, 1, IP));
        assert!(n.accept_nc(t0, &a, 3, IP));
        assert!(!n.accept_nc(t0, &a, 2, IP));
        let t1 = t0 + Duration::from_secs(1);
        let b = n.issue(t1, &mut rng, IP);
        let c = n.issue(t1 + Duration::from_secs(1), &mut rng, IP);
        assert!(n.accept_nc(t1, &b, 1, IP));
        assert!(n.accept_nc(t1, &c, 1, IP), "pushes a out");
        assert_eq!(n.tracked(), 2);
        assert_eq!(n.status(t1, &a, IP), NonceStatus::Stale);
        assert!(!n.accept_nc(t1, &a, 9, IP));
        // Expired entries leave the map.
        n.accept_nc(t0 + Duration::from_secs(400), &b, 2, IP);
        assert_eq!(n.tracked(), 0);
    }
}
