//! Thin wrappers over the Linux calls the workers need: the monotonic
//! clock, an absolute periodic `timerfd`, timer slack and RLIMIT_NOFILE.

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
