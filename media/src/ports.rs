//! RTP/RTCP port-pair allocation from the configured range.

use crate::MediaError;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;

/// DSCP EF (46) in the IPv4 TOS byte: expedited forwarding for voice.
const TOS_EF: u32 = 46 << 2;

/// Binds a UDP socket on `addr`; on `[::]` a dual-stack one (IPv4 too)
/// when `dual`.
pub(crate) fn bind_udp(addr: SocketAddr, dual: bool) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, None)?;
    if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        sock.set_only_v6(!dual)?;
    }
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// Whether a socket bound to `[::]` can take IPv4 too here (not when the
/// system has no IPv6 or forces IPv6-only sockets).
pub(crate) fn dual_stack_works() -> bool {
    bind_udp((Ipv6Addr::UNSPECIFIED, 0).into(), true).is_ok()
}

/// Bind attempts per [`PortAllocator::bind_pair`] call: a refusal at
/// exhaustion (or a range full of ports taken by other programs) answers
/// after this many tries instead of walking the whole range.
const MAX_BIND_ATTEMPTS: usize = 8;

/// Hands out even RTP ports (RTCP on port + 1) from a free list.
///
/// Allocation pops the front of the list; a pair the OS refuses to bind
/// (taken by another program) goes to the back and the next is tried, at
/// most [`MAX_BIND_ATTEMPTS`] times per call, so both success and
/// exhaustion are O(1). A closed stream's port is pushed back with
/// [`PortAllocator::release`] (called by the worker once its sockets are
/// closed).
#[derive(Debug)]
pub(crate) struct PortAllocator {
    ip: IpAddr,
    /// Sockets on `[::]` take IPv4 too.
    dual: bool,
    first: u16,
    last: u16,
    free: Mutex<VecDeque<u16>>,
}

impl PortAllocator {
    pub(crate) fn new(ip: IpAddr, (lo, hi): (u16, u16)) -> Result<PortAllocator, MediaError> {
        let dual = ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && dual_stack_works();
        let first = lo
            .checked_add(lo & 1)
            .ok_or(MediaError::InvalidConfig("empty RTP port range"))?;
        if first == 0 || first >= hi {
            return Err(MediaError::InvalidConfig(
                "RTP port range holds no even/odd pair",
            ));
        }
        let free = (first as u32..hi as u32)
            .step_by(2)
            .map(|p| p as u16)
            .collect();
        Ok(PortAllocator {
            ip,
            dual,
            first,
            last: hi,
            free: Mutex::new(free),
        })
    }

    /// The address the sockets bind to.
    pub(crate) fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Whether a stream's sockets can send to an address of `remote`'s
    /// family: the bind address's family, or both for dual-stack `[::]`.
    pub(crate) fn serves(&self, remote: IpAddr) -> bool {
        self.dual || remote.to_canonical().is_ipv6() == self.ip.is_ipv6()
    }

    fn list(&self) -> std::sync::MutexGuard<'_, VecDeque<u16>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pairs currently on the free list (some may be taken by other programs).
    pub(crate) fn free_pairs(&self) -> usize {
        self.list().len()
    }

    /// Returns an RTP port (even, from [`bind_pair`](Self::bind_pair)) to the free list.
    pub(crate) fn release(&self, port: u16) {
        if port >= self.first && port < self.last && port & 1 == 0 {
            self.list().push_back(port);
        }
    }

    /// Binds a free pair; the OS is the authority on what is free.
    pub(crate) fn bind_pair(&self) -> Result<(UdpSocket, UdpSocket), MediaError> {
        // The list is locked only to take a port or give one back, never
        // across a system call: a media worker (real-time) that returns a
        // port must not wait behind a thread of normal priority that the
        // scheduler has put aside in the middle of a bind.
        let attempts = self.list().len().min(MAX_BIND_ATTEMPTS);
        for _ in 0..attempts {
            let Some(port) = self.list().pop_front() else {
                break;
            };
            let bind = |p| bind_udp(SocketAddr::new(self.ip, p), self.dual);
            let bound = bind(port).and_then(|rtp| bind(port + 1).map(|rtcp| (rtp, rtcp)));
            let Ok((rtp, rtcp)) = bound else {
                // Taken by someone else: retry it last.
                self.list().push_back(port);
                continue;
            };
            let configured = [&rtp, &rtcp].iter().try_for_each(|s| {
                s.set_nonblocking(true)?;
                // Best effort: marking is advisory.
                // (On a dual-stack socket this marks what goes over IPv4.)
                if self.ip.is_ipv4() || self.dual {
                    let _ = socket2::SockRef::from(*s).set_tos_v4(TOS_EF);
                }
                Ok::<(), std::io::Error>(())
            });
            if let Err(e) = configured {
                drop((rtp, rtcp));
                self.list().push_back(port);
                return Err(e.into());
            }
            return Ok((rtp, rtcp));
        }
        Err(MediaError::NoFreePorts {
            first: self.first,
            last: self.last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn skips_ports_in_use_and_runs_out() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let probe = UdpSocket::bind((ip, 0)).unwrap();
        let base = probe.local_addr().unwrap().port().clamp(20_000, 60_000) & !1;
        drop(probe);
        // The range base+1 ..= base+6 holds the pairs base+2 and base+4.
        let alloc = PortAllocator::new(ip, (base + 1, base + 6)).unwrap();
        let blocker = UdpSocket::bind((ip, base + 3)).unwrap(); // RTCP of pair 1
        let (a, _a1) = alloc.bind_pair().unwrap();
        assert_eq!(a.local_addr().unwrap().port(), base + 4);
        assert!(matches!(
            alloc.bind_pair(),
            Err(MediaError::NoFreePorts { .. })
        ));
        drop(blocker);
        let (b, b1) = alloc.bind_pair().unwrap();
        assert_eq!(b.local_addr().unwrap().port(), base + 2);
        assert_eq!(b1.local_addr().unwrap().port(), base + 3);
    }

    #[test]
    fn exhaustion_is_quick_and_released_ports_are_reused() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // 1,000 pairs below the ephemeral range, used by no other test.
        let alloc = PortAllocator::new(ip, (24_000, 25_999)).unwrap();
        assert_eq!(alloc.free_pairs(), 1_000);
        let mut held = Vec::new();
        while let Ok(pair) = alloc.bind_pair() {
            held.push(pair);
        }
        assert!(!held.is_empty());
        let t = std::time::Instant::now();
        for _ in 0..100 {
            assert!(matches!(
                alloc.bind_pair(),
                Err(MediaError::NoFreePorts { .. })
            ));
        }
        // Loose bound: 100 refusals of at most 8 binds each.
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        let (rtp, rtcp) = held.pop().unwrap();
        let port = rtp.local_addr().unwrap().port();
        drop((rtp, rtcp));
        alloc.release(port);
        let (again, _) = alloc.bind_pair().unwrap();
        assert_eq!(again.local_addr().unwrap().port(), port);
    }

    #[test]
    fn rejects_ranges_without_a_pair() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(PortAllocator::new(ip, (21, 22)).is_err());
        assert!(PortAllocator::new(ip, (20, 20)).is_err());
        assert!(PortAllocator::new(ip, (20, 21)).is_ok());
    }
}
