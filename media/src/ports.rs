//! RTP/RTCP port-pair allocation from the configured range.

use crate::MediaError;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

/// DSCP EF (46) in the IPv4 TOS byte: expedited forwarding for voice.
const TOS_EF: u32 = 46 << 2;

/// Hands out even RTP ports (RTCP on port + 1), skipping ports in use.
#[derive(Debug)]
pub(crate) struct PortAllocator {
    ip: IpAddr,
    first: u16,
    last: u16,
    next: Mutex<u16>,
}

impl PortAllocator {
    pub(crate) fn new(ip: IpAddr, (lo, hi): (u16, u16)) -> Result<PortAllocator, MediaError> {
        let first = lo
            .checked_add(lo & 1)
            .ok_or(MediaError::InvalidConfig("empty RTP port range"))?;
        if first == 0 || first >= hi {
            return Err(MediaError::InvalidConfig(
                "RTP port range holds no even/odd pair",
            ));
        }
        Ok(PortAllocator {
            ip,
            first,
            last: hi,
            next: Mutex::new(first),
        })
    }

    fn pairs(&self) -> u32 {
        (self.last as u32 - self.first as u32).div_ceil(2)
    }

    /// Binds the next free pair; the OS is the authority on what is free.
    pub(crate) fn bind_pair(&self) -> Result<(UdpSocket, UdpSocket), MediaError> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..self.pairs() {
            let port = *next;
            *next = if port as u32 + 3 > self.last as u32 {
                self.first
            } else {
                port + 2
            };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.ip, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.ip, port + 1)) else {
                continue;
            };
            for s in [&rtp, &rtcp] {
                s.set_nonblocking(true)?;
                if self.ip.is_ipv4() {
                    // Best effort: marking is advisory.
                    let _ = socket2::SockRef::from(s).set_tos_v4(TOS_EF);
                }
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
    fn rejects_ranges_without_a_pair() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(PortAllocator::new(ip, (21, 22)).is_err());
        assert!(PortAllocator::new(ip, (20, 20)).is_err());
        assert!(PortAllocator::new(ip, (20, 21)).is_ok());
    }
}
