//! Thin wrappers over the Linux calls the workers need: the monotonic
//! clock, an absolute periodic `timerfd`, timer slack, RLIMIT_NOFILE and
//! `recvmmsg`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// CLOCK_MONOTONIC in nanoseconds (the clock `timerfd` and `Instant` use).
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// A non-blocking timerfd firing at `first_ns + k·period_ns` (absolute, so
/// it never drifts).
#[derive(Debug)]
pub(crate) struct TickTimer {
    fd: OwnedFd,
}

impl TickTimer {
    pub(crate) fn new(first_ns: u64, period_ns: u64) -> io::Result<TickTimer> {
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let timer = TickTimer { fd };
        timer.set(first_ns, period_ns)?;
        Ok(timer)
    }

    /// Fires at `first_ns + k·period_ns` from now on (absolute times).
    pub(crate) fn set(&self, first_ns: u64, period_ns: u64) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: timespec(period_ns),
            it_value: timespec(first_ns),
        };
        // SAFETY: `spec` is valid; the old value pointer may be null.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops firing until [`TickTimer::set`] (a zero value disarms it).
    pub(crate) fn disarm(&self) -> io::Result<()> {
        self.set(0, 0)
    }

    /// Consumes the expiration count so the descriptor becomes quiet again.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading at most 8 bytes into an 8-byte buffer.
        unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Makes the calling thread's sleeps and poll timeouts precise (1 µs slack
/// instead of the default 50 µs).
pub(crate) fn set_timer_slack_1us() {
    // SAFETY: PR_SET_TIMERSLACK only affects the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

/// Best effort: moves the calling thread to SCHED_FIFO at `priority`
/// (falling back to nice −10). Returns which one worked, if any.
pub(crate) fn raise_thread_priority(priority: i32) -> Option<&'static str> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: changes only the calling thread's policy.
    if unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) } == 0 {
        return Some("SCHED_FIFO");
    }
    // SAFETY: gettid has no preconditions; setpriority on our own tid.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, -10) } == 0 {
        return Some("nice -10");
    }
    None
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub(crate) fn raise_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_fires_at_absolute_deadline() {
        let start = monotonic_ns();
        let t = TickTimer::new(start + 5_000_000, 1_000_000).unwrap();
        let mut fds = libc::pollfd {
            fd: t.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut fds, 1, 1000) };
        let waited = monotonic_ns() - start;
        assert_eq!(n, 1);
        assert!(waited >= 5_000_000, "fired early after {waited} ns");
        t.drain();
    }

    #[test]
    fn nofile_limit_is_raised_to_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        assert_eq!(soft, lim.rlim_max);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }
}

/// Datagrams one [`RecvBatch::recv`] reads at most.
pub(crate) const BATCH: usize = 4;
/// Bytes of each of its buffers (more than any RTP packet ura takes).
pub(crate) const DATAGRAM: usize = 2048;

/// Buffers to read several datagrams with one `recvmmsg(2)`: a socket
/// drained with `recv_from` costs one more call (the one that would block)
/// per wake-up, here paid only when a batch comes back full.
pub(crate) struct RecvBatch {
    bufs: Box<[[u8; DATAGRAM]; BATCH]>,
    addrs: [libc::sockaddr_storage; BATCH],
    lens: [usize; BATCH],
    n: usize,
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            bufs: Box::new([[0; DATAGRAM]; BATCH]),
            // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
            addrs: unsafe { std::mem::zeroed() },
            lens: [0; BATCH],
            n: 0,
        }
    }

    /// Reads what the non-blocking datagram socket `fd` holds, up to
    /// [`BATCH`] datagrams; `Ok(0)` when it holds none. Fewer than
    /// [`BATCH`] means the socket was drained.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.n = 0;
        // SAFETY: iovec and mmsghdr are plain data; zeroes are valid, and
        // every pointer set below stays valid for the call (self is
        // borrowed mutably throughout).
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iov[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM,
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: hdrs holds BATCH valid headers whose buffers outlive the call.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        let got = (got as usize).min(BATCH);
        for (len, h) in self.lens.iter_mut().zip(&hdrs).take(got) {
            *len = (h.msg_len as usize).min(DATAGRAM);
        }
        self.n = got;
        Ok(got)
    }

    /// The `i`-th datagram of the last [`recv`](Self::recv) and where it
    /// came from (`None` past what it read, or from an address family
    /// other than IPv4/IPv6).
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], std::net::SocketAddr)> {
        if i >= self.n {
            return None;
        }
        let from = socket_addr(&self.addrs[i])?;
        Some((&self.bufs[i][..self.lens[i]], from))
    }
}

/// A `sockaddr_storage` the kernel filled, as a `SocketAddr`.
fn socket_addr(s: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match s.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // and sockaddr_storage is large and aligned enough for it.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            Some(SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use std::net::UdpSocket;

    fn pair(local: &str) -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind(local).unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind(local).unwrap();
        (rx, tx)
    }

    #[test]
    fn a_batch_reads_up_to_its_size_then_what_is_left_then_nothing() {
        let (rx, tx) = pair("127.0.0.1:0");
        for i in 0..6u8 {
            tx.send_to(&[i; 3][..=(i as usize % 3)], rx.local_addr().unwrap())
                .unwrap();
        }
        let mut b = RecvBatch::new();
        let mut seen = Vec::new();
        let fd = rx.as_raw_fd();
        assert_eq!(b.recv(fd).unwrap(), BATCH);
        for i in 0..BATCH {
            let (data, from) = b.get(i).unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            seen.push(data.to_vec());
        }
        assert!(b.get(BATCH).is_none());
        assert_eq!(b.recv(fd).unwrap(), 2);
        seen.extend((0..2).map(|i| b.get(i).unwrap().0.to_vec()));
        assert!(b.get(2).is_none());
        assert_eq!(b.recv(fd).unwrap(), 0);
        assert!(b.get(0).is_none());
        let want: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; i as usize % 3 + 1]).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn the_source_of_an_ipv6_datagram_is_read() {
        let Ok(rx) = UdpSocket::bind("[::1]:0") else {
            panic!(
                "no IPv6 loopback (::1) on this machine: leave out the tests that need it with \
                 `cargo nextest run --workspace --profile no-peers`"
            );
        };
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        tx.send_to(b"rtp", rx.local_addr().unwrap()).unwrap();
        let mut b = RecvBatch::new();
        let mut got = 0;
        for _ in 0..100 {
            got = b.recv(rx.as_raw_fd()).unwrap();
            if got > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(got, 1);
        let (data, from) = b.get(0).unwrap();
        assert_eq!((data, from), (&b"rtp"[..], tx.local_addr().unwrap()));
    }
}
