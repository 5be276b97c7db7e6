//! Load harness (ignored by default; run in release):
//! `cargo test -p ura-media --release --test load -- --ignored --nocapture`
//!
//! Starts N streams all playing a looped prompt to local receivers and
//! reports the distribution of the packet spacing error. Spacing is taken
//! from kernel receive timestamps (SO_TIMESTAMPNS), which on loopback are
//! stamped inside the sender's `sendto`, so the receivers' own scheduling
//! does not distort the figures.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ura_media::{
    Codec, Direction, MediaConfig, MediaEngine, PlayId, PlayMode, PromptFrames, StreamParams,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn run(streams: usize, seconds: u64) -> (f64, f64, f64, u64, u64, Duration) {
    let cfg = MediaConfig {
        workers: 2,
        bind_ip: LOCALHOST,
        rtp_ports: (30_000, 39_999),
        rtp_timeout: Duration::from_secs(600),
        rtcp_interval: Duration::from_secs(5),
        realtime: true,
    };
    let engine = MediaEngine::start(cfg, |_| {}).unwrap();
    let receivers: Vec<UdpSocket> = (0..4)
        .map(|_| {
            let s = UdpSocket::bind((LOCALHOST, 0)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            socket2::SockRef::from(&s)
                .set_recv_buffer_size(8 << 20)
                .ok();
            let on: libc::c_int = 1;
            // SAFETY: valid socket and option value.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TIMESTAMPNS,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
            s
        })
        .collect();
    let pcm: Vec<i16> = (0..8000).map(|i| ((i % 80) * 200 - 8000) as i16).collect();
    let prompt = PromptFrames::from_pcm(&pcm);
    let mut ids = Vec::new();
    for i in 0..streams {
        let (id, _) = engine.allocate().unwrap();
        engine.start_stream(
            id,
            StreamParams {
                remote_rtp: receivers[i % 4].local_addr().unwrap(),
                remote_rtcp: None,
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event_pt: None,
                direction: Direction::SendRecv,
                latch_only: false,
            },
        );
        engine.play(
            id,
            PlayId(i as u64),
            prompt.clone(),
            PlayMode::Replace,
            true,
        );
        ids.push(id);
    }
    let errors = Arc::new(Mutex::new(Vec::<f64>::new()));
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(seconds);
    let threads: Vec<_> = receivers
        .into_iter()
        .map(|s| {
            let errors = errors.clone();
            std::thread::spawn(move || {
                let mut last: HashMap<u16, u64> = HashMap::new();
                let mut local = Vec::new();
                while Instant::now() < end {
                    let Some((port, stamp)) = recv_stamped(&s) else {
                        continue;
                    };
                    if let Some(prev) = last.insert(port, stamp) {
                        if Instant::now() > warmup {
                            let gap = stamp.saturating_sub(prev) as f64 / 1e6;
                            local.push((gap - 20.0).abs());
                        }
                    }
                }
                errors.lock().unwrap().extend(local);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(1100)); // let the histograms refresh
    let stats = engine.worker_stats();
    println!("{stats:?}");
    let worker_p99 = stats
        .iter()
        .map(|w| w.spacing_error_p99)
        .max()
        .unwrap_or_default();
    let late = engine.late_ticks();
    let ticks: u64 = engine.worker_stats().iter().map(|w| w.ticks).sum();
    for id in ids {
        engine.close(id);
    }
    engine.shutdown();
    let mut e = errors.lock().unwrap().clone();
    e.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| e[((e.len() as f64 * p) as usize).min(e.len() - 1)];
    (pct(0.50), pct(0.99), pct(0.999), late, ticks, worker_p99)
}

/// Receives one datagram; returns the sender's port and the kernel
/// timestamp in ns.
fn recv_stamped(s: &UdpSocket) -> Option<(u16, u64)> {
    let mut buf = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed sockaddr/msghdr are valid initial values.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut control = [0u64; 16];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: all pointers in `msg` refer to live buffers.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return None;
    }
    // SAFETY: walking the control messages the kernel filled in.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                return Some((u16::from_be(addr.sin_port), ns));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    None
}

#[test]
#[ignore = "load harness: run in release with --ignored --nocapture"]
fn spacing_with_1000_playing_calls() {
    let streams = std::env::var("URA_LOAD_STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let (p50, p99, p999, late, ticks, worker_p99) = run(streams, 5);
    println!(
        "{streams} streams: at the receivers (kernel rx stamps) spacing error p50 {p50:.3} ms, \
         p99 {p99:.3} ms, p99.9 {p999:.3} ms; at the workers p99 ≤ {worker_p99:?}; \
         late ticks {late}/{ticks}"
    );
    assert!(
        worker_p99 <= Duration::from_millis(1),
        "worker p99 spacing error {worker_p99:?}"
    );
}
