//! A rate limit per source address for requests that create state (new
//! INVITEs, REGISTERs, anything outside a dialog), so that one scanner or
//! flooder cannot take the port from everybody else. A token bucket per
//! address; time is an input.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

/// The limit's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceLimit {
    /// New requests per second one address may send, on average (0: no limit).
    pub rate: f64,
    /// How many it may send at once.
    pub burst: f64,
    /// Addresses never limited (a carrier's SBC that brings every inbound
    /// call, a proxy in front of ura).
    pub trusted: HashSet<IpAddr>,
}

impl Default for SourceLimit {
    fn default() -> Self {
        SourceLimit {
            rate: 50.0,
            burst: 100.0,
            trusted: HashSet::new(),
        }
    }
}

/// Most addresses tracked; past it the oldest is forgotten (a flood from
/// that many addresses is not one source, and memory stays bounded).
const MAX_SOURCES: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets.
#[derive(Debug)]
pub struct SourceLimiter {
    limit: SourceLimit,
    buckets: HashMap<IpAddr, Bucket>,
    order: VecDeque<IpAddr>,
}

impl SourceLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: SourceLimit) -> SourceLimiter {
        SourceLimiter {
            limit,
            buckets: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether a new request from `ip` at `now` is within its rate.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.limit.rate <= 0.0 || self.limit.trusted.contains(&ip) {
            return true;
        }
        let (rate, burst) = (self.limit.rate, self.limit.burst.max(1.0));
        let bucket = match self.buckets.get_mut(&ip) {
            Some(b) => {
                let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
                b.tokens = (b.tokens + elapsed * rate).min(burst);
                b.at = now;
                b
            }
            None => {
                if self.buckets.len() >= MAX_SOURCES {
                    if let Some(old) = self.order.pop_front() {
                        self.buckets.remove(&old);
                    }
                }
                self.order.push_back(ip);
                self.buckets.entry(ip).or_insert(Bucket {
                    tokens: burst,
                    at: now,
                })
            }
        };
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rate: f64, burst: f64) -> SourceLimiter {
        SourceLimiter::new(SourceLimit {
            rate,
            burst,
            trusted: HashSet::new(),
        })
    }

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut l = limiter(10.0, 5.0);
        let allowed = (0..20).filter(|_| l.allow(ip, t0)).count();
        assert_eq!(allowed, 5, "the burst");
        // 100 ms later: one more token.
        assert!(l.allow(ip, t0 + Duration::from_millis(100)));
        assert!(!l.allow(ip, t0 + Duration::from_millis(100)));
        // Over 1.05 s at the rate: 10 more (10.5 tokens).
        let t1 = t0 + Duration::from_millis(100);
        let allowed = (1..=105)
            .filter(|i| l.allow(ip, t1 + Duration::from_millis(10 * i)))
            .count();
        assert_eq!(allowed, 10);
        // Another address is not affected.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.allow(other, t1));
    }

    #[test]
    fn trusted_addresses_and_no_limit() {
        let t0 = Instant::now();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let mut l = SourceLimiter::new(SourceLimit {
            rate: 1.0,
            burst: 1.0,
            trusted: [ip].into_iter().collect(),
        });
        assert!((0..1000).all(|_| l.allow(ip, t0)));
        let mut off = limiter(0.0, 1.0);
        assert!((0..1000).all(|_| off.allow(ip, t0)));
    }

    #[test]
    fn memory_stays_bounded() {
        let t0 = Instant::now();
        let mut l = limiter(1.0, 1.0);
        for i in 0..(MAX_SOURCES as u32 + 5_000) {
            l.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(l.tracked(), MAX_SOURCES);
    }
}
