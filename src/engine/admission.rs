//! Admission: how many calls ura takes at once, and why it refuses one.
//!
//! Every call holds two UDP sockets (RTP and RTCP), so the open-file limit
//! bounds the calls as surely as the RTP port range or `--max-calls` do.
//! The limit in force is the smallest of the three; a new call beyond it is
//! refused with 503 before anything is allocated for it, and the log names
//! the real cause at most once a second, with how many were refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most TCP SIP connections open at once (beyond: accepted and closed at
/// once), at the usual open-file limits; lower limits get fewer (see
/// [`tcp_cap`]).
pub const MAX_TCP_CONNECTIONS: usize = 1_024;

/// Why a new call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `--max-calls`.
    MaxCalls,
    /// The open-file limit (two sockets per call).
    FileDescriptors,
    /// The RTP port range (one even/odd pair per call).
    RtpPorts,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::MaxCalls => "--max-calls",
            Cause::FileDescriptors => "file descriptors",
            Cause::RtpPorts => "RTP ports",
        }
    }
}

/// Counts events and says when to log them: at most once per `period`,
/// with how many happened since the last line.
#[derive(Debug)]
pub struct RateLimited {
    period: Duration,
    count: AtomicU64,
    total: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl Default for RateLimited {
    fn default() -> Self {
        RateLimited::new(Duration::from_secs(1))
    }
}

impl RateLimited {
    /// Logs at most once per `period`.
    pub fn new(period: Duration) -> RateLimited {
        RateLimited {
            period,
            count: AtomicU64::new(0),
            total: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// Counts one event; `Some(n)` when a line is due, `n` being the events
    /// since the last line (this one included).
    pub fn hit(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| now.duration_since(t) < self.period) {
            return None;
        }
        *last = Some(now);
        Some(self.count.swap(0, Ordering::Relaxed))
    }

    /// Every event counted since start.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// The soft RLIMIT_NOFILE now (the media engine raises it to the hard
/// limit when it starts).
pub fn nofile_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1_024;
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        return 1 << 20;
    }
    usize::try_from(lim.rlim_cur).unwrap_or(1 << 20)
}

/// Descriptors open now (`/proc/self/fd`), when it can be read.
pub fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count().saturating_sub(1)) // the directory's own fd
}

/// TCP connections allowed at `nofile`: 1/16 of the limit, between 4 and
/// [`MAX_TCP_CONNECTIONS`].
pub fn tcp_cap(nofile: usize) -> usize {
    (nofile / 16).clamp(4, MAX_TCP_CONNECTIONS)
}

/// Descriptors kept free for HTTP clients, files and the like: 1/32 of
/// the limit, between 8 and 128.
fn slack(nofile: usize) -> usize {
    (nofile / 32).clamp(8, 128)
}

/// RTP pairs in a port range, as the media allocator counts them.
pub fn rtp_pairs((lo, hi): (u16, u16)) -> usize {
    let first = u32::from(lo) + u32::from(lo & 1);
    if first >= u32::from(hi) {
        return 0;
    }
    (u32::from(hi) - first).div_ceil(2) as usize
}

/// The admission rule of a running engine.
#[derive(Debug)]
pub struct Admission {
    /// Calls the open-file limit allows.
    pub fd_calls: usize,
    /// Calls the RTP port range allows.
    pub rtp_calls: usize,
    nofile: usize,
    logs: [RateLimited; 3],
}

impl Admission {
    /// From the open-file limit, the descriptors open now (the store,
    /// sockets, workers), the TCP connection cap and the RTP range.
    pub fn new(nofile: usize, open_now: usize, rtp_ports: (u16, u16)) -> Admission {
        let headroom = open_now + tcp_cap(nofile) + slack(nofile);
        Admission {
            fd_calls: nofile.saturating_sub(headroom) / 2,
            rtp_calls: rtp_pairs(rtp_ports),
            nofile,
            logs: Default::default(),
        }
    }

    /// The most calls up at once with `max_calls` as configured.
    pub fn limit(&self, max_calls: Option<usize>) -> usize {
        self.fd_calls
            .min(self.rtp_calls)
            .min(max_calls.unwrap_or(usize::MAX))
    }

    /// Whether one more call fits beside `calls` (callers) holding
    /// `streams` media streams (a caller bridged to an agent holds two);
    /// else the tightest limit that is reached. `--max-calls` counts
    /// callers, the file descriptors and ports count streams.
    pub fn check(
        &self,
        calls: usize,
        streams: usize,
        max_calls: Option<usize>,
    ) -> Result<(), Cause> {
        let limits = [
            (calls, max_calls.unwrap_or(usize::MAX), Cause::MaxCalls),
            (streams, self.fd_calls, Cause::FileDescriptors),
            (streams, self.rtp_calls, Cause::RtpPorts),
        ];
        match limits
            .iter()
            .filter(|(used, limit, _)| used >= limit)
            .min_by_key(|(_, limit, _)| *limit)
        {
            Some((_, _, cause)) => Err(*cause),
            None => Ok(()),
        }
    }

    /// Why the media side found no socket pair below the limit: file
    /// descriptors when nearly all are open (another part of ura, or a
    /// leak, used them), else the ports (another program holds some).
    pub fn allocation_failed(&self) -> Cause {
        match open_fds() {
            Some(open) if open + 8 >= self.nofile => Cause::FileDescriptors,
            _ => Cause::RtpPorts,
        }
    }

    /// Notes a refusal (503) for `cause`; logs at most once a second per
    /// cause, with the count.
    pub fn refused(&self, cause: Cause, calls: usize) {
        let i = match cause {
            Cause::MaxCalls => 0,
            Cause::FileDescriptors => 1,
            Cause::RtpPorts => 2,
        };
        if let Some(n) = self.logs[i].hit() {
            tracing::warn!(
                cause = cause.as_str(),
                refused = n,
                total = self.logs[i].total(),
                calls,
                "new calls refused with 503: out of {}",
                cause.as_str()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_limit_is_the_cause() {
        let a = Admission::new(20_000, 40, (20_000, 29_999));
        assert_eq!(a.rtp_calls, 5_000);
        // 20000 - 40 - 1024 - 128 = 18808 → 9404 calls.
        assert_eq!(a.fd_calls, 9_404);
        assert_eq!(a.limit(None), 5_000);
        assert_eq!(a.check(4_999, 4_999, None), Ok(()));
        assert_eq!(a.check(5_000, 5_000, None), Err(Cause::RtpPorts));
        assert_eq!(a.check(100, 100, Some(100)), Err(Cause::MaxCalls));
        let low = Admission::new(64, 30, (20_000, 29_999));
        // 64 - 30 - 4 - 8 = 22 → 11 calls.
        assert_eq!(low.fd_calls, 11);
        assert_eq!(low.check(11, 11, Some(50)), Err(Cause::FileDescriptors));
        assert_eq!(low.check(10, 10, Some(50)), Ok(()));
        // Callers bridged to agents hold two streams each: 6 callers and
        // 5 agent legs fill the descriptors, not --max-calls.
        assert_eq!(low.check(6, 11, Some(8)), Err(Cause::FileDescriptors));
        assert_eq!(low.check(8, 8, Some(8)), Err(Cause::MaxCalls));
    }

    #[test]
    fn pairs_match_the_allocator() {
        assert_eq!(rtp_pairs((30_000, 30_399)), 200);
        assert_eq!(rtp_pairs((30_001, 30_399)), 199);
        assert_eq!(rtp_pairs((30_000, 30_003)), 2);
    }

    #[test]
    fn logs_at_most_once_per_period() {
        let r = RateLimited::new(Duration::from_secs(3600));
        assert_eq!(r.hit(), Some(1));
        for _ in 0..10 {
            assert_eq!(r.hit(), None);
        }
        assert_eq!(r.total(), 11);
        let quick = RateLimited::new(Duration::ZERO);
        assert_eq!(quick.hit(), Some(1));
        assert_eq!(quick.hit(), Some(1));
    }
}
