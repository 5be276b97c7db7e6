//! Thin wrappers over the Linux calls the workers need: the monotonic
//! clock, an absolute periodic `timerfd`, batched receives (`recvmmsg`),
//! timer slack and RLIMIT_NOFILE.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// CLOCK_MONOTONIC in nanoseconds (the clock `timerfd` and `Instant` use).
pub(crate) fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Clock `clock` in nanoseconds.
fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
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

/// Datagrams taken by one receive call.
pub(crate) const RECV_BATCH: usize = 8;
/// Room for one datagram (RTP of any codec ura speaks fits many times).
pub(crate) const DATAGRAM: usize = 2048;

/// Buffers for [`recv_batch`]: up to [`RECV_BATCH`] datagrams and their
/// sources, reused for every call (nothing is allocated per packet).
pub(crate) struct RecvBatch {
    data: Box<[[u8; DATAGRAM]; RECV_BATCH]>,
    lens: [usize; RECV_BATCH],
    addrs: [libc::sockaddr_storage; RECV_BATCH],
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            data: Box::new([[0; DATAGRAM]; RECV_BATCH]),
            lens: [0; RECV_BATCH],
            // SAFETY: sockaddr_storage is plain data; all zero is valid.
            addrs: unsafe { std::mem::zeroed() },
        }
    }

    /// Datagram `i` of the last [`recv_batch`] and where it came from
    /// (`None`: a source that is neither IPv4 nor IPv6).
    pub(crate) fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        (&self.data[i][..self.lens[i]], sockaddr(&self.addrs[i]))
    }
}

/// A socket address the kernel wrote.
fn sockaddr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Takes the datagrams waiting on `fd` (non-blocking), up to
/// [`RECV_BATCH`], in one `recvmmsg`. Fewer than [`RECV_BATCH`] means the
/// queue was empty when the call returned, so an edge-triggered reader
/// need not call again to see `WouldBlock`: one system call per wake-up
/// instead of two for a lone packet. A datagram longer than [`DATAGRAM`]
/// is cut (RTP never is).
pub(crate) fn recv_batch(fd: RawFd, batch: &mut RecvBatch) -> io::Result<usize> {
    // SAFETY: plain data; every field the kernel reads is set below.
    let mut iov: [libc::iovec; RECV_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; RECV_BATCH] = unsafe { std::mem::zeroed() };
    for (i, (v, m)) in iov.iter_mut().zip(msgs.iter_mut()).enumerate() {
        v.iov_base = batch.data[i].as_mut_ptr().cast();
        v.iov_len = DATAGRAM;
        m.msg_hdr.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs` holds RECV_BATCH headers, each pointing at its own
    // iovec, buffer and address storage, all alive for the call.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            RECV_BATCH as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    for (len, m) in batch.lens.iter_mut().zip(&msgs).take(n) {
        *len = (m.msg_len as usize).min(DATAGRAM);
    }
    Ok(n)
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

/// CPU time the calling thread has used, in nanoseconds.
pub(crate) fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Puts the calling thread back to normal scheduling (SCHED_OTHER, nice 0);
/// false when the system refused.
pub(crate) fn normal_thread_priority() -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes only the calling thread's policy.
    let policy =
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_OTHER, &param) };
    // SAFETY: gettid has no preconditions; setpriority on our own tid.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    // SAFETY: as above.
    let nice = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 0) };
    policy == 0 && nice == 0
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
    fn batched_receive_takes_every_datagram_with_its_source() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut batch = RecvBatch::new();
        let err = recv_batch(rx.as_raw_fd(), &mut batch).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let sent = RECV_BATCH + 3;
        for i in 0..sent {
            tx.send_to(&vec![i as u8; 10 + i], to).unwrap();
        }
        let mut got = Vec::new();
        loop {
            let n = match recv_batch(rx.as_raw_fd(), &mut batch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            };
            for i in 0..n {
                let (data, src) = batch.get(i);
                assert_eq!(src, Some(tx.local_addr().unwrap()));
                got.push(data.to_vec());
            }
            if n < RECV_BATCH {
                break;
            }
        }
        assert_eq!(got.len(), sent);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &vec![i as u8; 10 + i]);
        }
        // Drained: a short batch left nothing behind.
        let err = recv_batch(rx.as_raw_fd(), &mut batch).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn batched_receive_reads_ipv6_sources() {
        let rx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let tx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        tx.send_to(b"abc", rx.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::new();
        let mut n = 0;
        for _ in 0..100 {
            match recv_batch(rx.as_raw_fd(), &mut batch) {
                Ok(k) => {
                    n = k;
                    break;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        assert_eq!(n, 1);
        assert_eq!(batch.get(0), (&b"abc"[..], Some(tx.local_addr().unwrap())));
    }

    #[test]
    fn a_raised_thread_goes_back_to_normal_priority() {
        std::thread::spawn(|| {
            // Root or CAP_SYS_NICE raises it; without, it stays normal.
            let raised = raise_thread_priority(10);
            assert!(normal_thread_priority());
            // SAFETY: queries the calling thread only.
            let policy = unsafe { libc::sched_getscheduler(0) };
            assert_eq!(policy, libc::SCHED_OTHER, "raised by {raised:?}");
            // SAFETY: as above.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            // SAFETY: as above.
            assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }, 0);
            assert!(thread_cpu_ns() > 0);
        })
        .join()
        .unwrap();
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
