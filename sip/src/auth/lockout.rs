//! Counting failed authentications and locking keys (a source address, or a
//! user) out for a while.
//!
//! `threshold` failures within `window` lock the key for `base`; each further
//! lockout of the same key doubles that, up to `max`. A success forgets the
//! key; so does a quiet period (no failure for `quiet` once unlocked). The map
//! is capped: when full, the entry least recently failed-on is dropped (an
//! attacker with more addresses than the cap can wash locks out; the cap is
//! there to bound memory).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How failures turn into lockouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock the key.
    pub threshold: u32,
    /// The counting window.
    pub window: Duration,
    /// The first lockout.
    pub base: Duration,
    /// The longest lockout.
    pub max: Duration,
    /// A key with no failure for this long (and not locked) is forgotten.
    pub quiet: Duration,
    /// Most keys remembered.
    pub capacity: usize,
}

impl LockoutPolicy {
    /// Per source address: 5 failures in a minute lock for 30 s, doubling to 1 h.
    pub fn per_source() -> LockoutPolicy {
        LockoutPolicy {
            threshold: 5,
            window: Duration::from_secs(60),
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
            quiet: Duration::from_secs(3600),
            capacity: 100_000,
        }
    }

    /// Per user (failures from all addresses): 20 in a minute, same durations.
    pub fn per_user() -> LockoutPolicy {
        LockoutPolicy {
            threshold: 20,
            ..LockoutPolicy::per_source()
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    window_start: Instant,
    last_failure: Instant,
    locked_until: Option<Instant>,
    lockouts: u32,
    total: u32,
}

/// A new lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Until when.
    pub until: Instant,
    /// Failures counted for the key since it was last forgotten.
    pub failures: u32,
}

/// Failure counters and locks per key. See the module docs.
#[derive(Debug)]
pub struct Lockout<K> {
    policy: LockoutPolicy,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Lockout<K> {
    /// Empty, with this policy.
    pub fn new(policy: LockoutPolicy) -> Lockout<K> {
        Lockout {
            policy,
            entries: HashMap::new(),
        }
    }

    /// Replaces the policy (existing counters are kept).
    pub fn set_policy(&mut self, policy: LockoutPolicy) {
        self.policy = policy;
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Until when `key` is locked, if it is at `now`.
    pub fn locked_until(&self, now: Instant, key: &K) -> Option<Instant> {
        self.entries
            .get(key)
            .and_then(|e| e.locked_until)
            .filter(|u| *u > now)
    }

    /// Counts a failure; `Some` when it starts a lockout.
    pub fn record_failure(&mut self, now: Instant, key: &K) -> Option<Locked> {
        let p = self.policy;
        if !self.entries.contains_key(key) {
            if self.entries.len() >= p.capacity {
                self.make_room(now);
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    failures: 0,
                    window_start: now,
                    last_failure: now,
                    locked_until: None,
                    lockouts: 0,
                    total: 0,
                },
            );
        }
        let e = self.entries.get_mut(key)?;
        e.total = e.total.saturating_add(1);
        if e.locked_until.is_some_and(|u| u > now) {
            // Already locked: counted, the lock is not extended.
            e.last_failure = now;
            return None;
        }
        if e.locked_until.is_some() || now.saturating_duration_since(e.last_failure) >= p.quiet {
            if now.saturating_duration_since(e.last_failure) >= p.quiet {
                e.lockouts = 0;
            }
            e.locked_until = None;
            e.failures = 0;
            e.window_start = now;
        }
        if now.saturating_duration_since(e.window_start) >= p.window {
            e.failures = 0;
            e.window_start = now;
        }
        e.last_failure = now;
        e.failures = e.failures.saturating_add(1);
        if e.failures < p.threshold {
            return None;
        }
        let factor = 1u32.checked_shl(e.lockouts.min(31)).unwrap_or(u32::MAX);
        let span = p.base.saturating_mul(factor).min(p.max);
        e.lockouts = e.lockouts.saturating_add(1);
        e.failures = 0;
        // A policy with absurd durations must not overflow `Instant`.
        let until = now
            .checked_add(span)
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(now);
        e.locked_until = Some(until);
        Some(Locked {
            until,
            failures: e.total,
        })
    }

    /// Forgets `key` after a success.
    pub fn record_success(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops entries past their quiet period; if that frees too little, the
    /// least recently failed-on sixteenth, so that a flood of new keys costs
    /// one pass over the map per `capacity / 16` keys, not one per key.
    fn make_room(&mut self, now: Instant) {
        let quiet = self.policy.quiet;
        self.entries.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || now.saturating_duration_since(e.last_failure) < quiet
        });
        let target = self
            .policy
            .capacity
            .saturating_sub((self.policy.capacity / 16).max(1));
        if self.entries.len() <= target {
            return;
        }
        let excess = self.entries.len() - target;
        let mut by_age: Vec<(Instant, K)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.last_failure, k.clone()))
            .collect();
        by_age.select_nth_unstable_by_key(excess - 1, |(t, _)| *t);
        for (_, k) in by_age.into_iter().take(excess) {
            self.entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_threshold_and_doubles() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy::per_source());
        for i in 0..4 {
            assert_eq!(l.record_failure(t0, &1), None, "failure {i}");
        }
        let first = l.record_failure(t0, &1).unwrap();
        assert_eq!(first.until, t0 + Duration::from_secs(30));
        assert_eq!(first.failures, 5);
        assert!(l.locked_until(t0 + Duration::from_secs(29), &1).is_some());
        assert_eq!(l.record_failure(t0 + Duration::from_secs(29), &1), None);
        let t1 = t0 + Duration::from_secs(30);
        assert!(l.locked_until(t1, &1).is_none());
        for _ in 0..4 {
            assert_eq!(l.record_failure(t1, &1), None);
        }
        let second = l.record_failure(t1, &1).unwrap();
        assert_eq!(second.until, t1 + Duration::from_secs(60), "doubled");
        l.record_success(&1);
        assert!(l.is_empty());
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_caps_hold() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy {
            capacity: 3,
            ..LockoutPolicy::per_source()
        });
        for i in 0..10u64 {
            assert_eq!(l.record_failure(t0 + Duration::from_secs(61 * i), &1), None);
        }
        for k in 2..10 {
            l.record_failure(t0, &k);
        }
        assert!(l.len() <= 3);
    }
}
