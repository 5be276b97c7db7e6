//! Relay latency harness (ignored by default; run in release):
//! `cargo test -p ura-media --release --test bridge_load -- --ignored --nocapture`
//!
//! Sets up N bridged pairs (`URA_BRIDGE_PAIRS`, default 500: 1,000 legs)
//! on 127.0.0.1; every leg's phone sends a 20 ms PCMU packet carrying its
//! send time (CLOCK_REALTIME, written just before `sendto`), from a few
//! sender threads with nonblocking sockets. The latency of a relayed
//! packet is the kernel receive timestamp (SO_TIMESTAMPNS, same clock) at
//! the other phone minus that send time, so the phones' own scheduling
//! does not count. Reports p50/p99/max, packets lost and the CPU used by
//! the media workers (from /proc/self/task/*/stat) per bridged pair.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ura_media::rtp::RtpHeader;
use ura_media::{Codec, Direction, MediaConfig, MediaEngine, StreamParams};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SENDERS: usize = 4;
const MAGIC: [u8; 4] = [0xB1, 0xD6, 0xE5, 0x42];

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    s.set_nonblocking(true).unwrap();
    socket2::SockRef::from(&s)
        .set_recv_buffer_size(1 << 20)
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
}

/// Receives one datagram into `buf`; returns its length and the kernel
/// receive timestamp (ns, CLOCK_REALTIME).
fn recv_stamped(s: &UdpSocket, buf: &mut [u8]) -> Option<(usize, u64)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is a valid initial value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: all pointers in `msg` refer to live buffers.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: walking the control messages the kernel filled in.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                return Some((
                    n as usize,
                    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64,
                ));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((n as usize, 0))
}

/// CPU time (s) used so far by the threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> f64 {
    let tick = 100.0; // USER_HZ
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for t in dir.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the ")" closing the name: state is field 3; utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 12 {
            let ut: f64 = f[11].parse().unwrap_or(0.0);
            let st: f64 = f[12].parse().unwrap_or(0.0);
            total += (ut + st) / tick;
        }
    }
    total
}

fn process_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Leg {
    sock: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    received: u64,
    latencies_us: Vec<u32>,
}

#[test]
#[ignore = "load harness: run in release with --ignored --nocapture"]
fn relay_latency_with_500_bridged_pairs() {
    let pairs: usize = std::env::var("URA_BRIDGE_PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let seconds: u64 = std::env::var("URA_BRIDGE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let burst = std::env::var("URA_BRIDGE_BURST").is_ok_and(|v| v == "1");
    let cfg = MediaConfig {
        workers: 2,
        bind_ip: LOCALHOST,
        rtp_ports: (30_000, 39_999),
        rtp_timeout: Duration::from_secs(600),
        rtcp_interval: Duration::from_secs(5),
        realtime: true,
    };
    let engine = MediaEngine::start(cfg, |_| {}).unwrap();
    let mut groups: Vec<Vec<Leg>> = (0..SENDERS).map(|_| Vec::new()).collect();
    let mut ids = Vec::new();
    for i in 0..pairs {
        let (a, la) = engine.allocate().unwrap();
        let (b, lb) = engine.allocate_with(a).unwrap();
        for (id, local) in [(a, la), (b, lb)] {
            let sock = phone();
            engine.start_stream(
                id,
                StreamParams {
                    remote_rtp: sock.local_addr().unwrap(),
                    remote_rtcp: None,
                    codec: Codec::Pcmu,
                    payload_type: 0,
                    telephone_event_pt: None,
                    direction: Direction::SendRecv,
                    latch_only: false,
                },
            );
            groups[i % SENDERS].push(Leg {
                sock,
                to: local,
                ssrc: fastrand_like(i as u32 * 2 + 1),
                seq: 0,
                ts: 0,
            });
        }
        engine.bridge(a, b).unwrap();
        ids.push(a);
        ids.push(b);
    }
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now() + Duration::from_millis(100);
    let warmup = start + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(seconds);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let cpu_at = Arc::new(Mutex::new((0.0, 0.0)));
    let threads: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(g, mut legs)| {
            let tally = tally.clone();
            let cpu_at = cpu_at.clone();
            std::thread::spawn(move || {
                let mut local = Tally::default();
                let mut pkt = [0u8; 12 + 160];
                let mut buf = [0u8; 1500];
                // Each leg sends at its own phase of the 20 ms period, as
                // unsynchronised phones do; URA_BRIDGE_BURST=1 makes each
                // thread send all its legs at once (staggered by 5 ms).
                let total = legs.len() * SENDERS;
                let mut next: Vec<Instant> = (0..legs.len())
                    .map(|j| {
                        let slot = if burst {
                            g * total / SENDERS
                        } else {
                            j * SENDERS + g
                        };
                        start + Duration::from_micros((slot * 20_000 / total) as u64)
                    })
                    .collect();
                let mut measuring = false;
                while Instant::now() < end + Duration::from_millis(300) {
                    let now = Instant::now();
                    if !measuring && now >= warmup {
                        measuring = true;
                        if g == 0 {
                            *cpu_at.lock().unwrap() = (thread_cpu("ura-media-"), process_cpu());
                        }
                    }
                    for (leg, next) in legs.iter_mut().zip(next.iter_mut()) {
                        if now < *next || now >= end {
                            continue;
                        }
                        RtpHeader {
                            payload_type: 0,
                            sequence: leg.seq,
                            timestamp: leg.ts,
                            ssrc: leg.ssrc,
                            ..RtpHeader::default()
                        }
                        .write(&mut pkt)
                        .unwrap();
                        pkt[12..16].copy_from_slice(&MAGIC);
                        pkt[24..26].fill(u8::from(measuring));
                        pkt[16..24].copy_from_slice(&realtime_ns().to_be_bytes());
                        if leg.sock.send_to(&pkt, leg.to).is_ok() && measuring {
                            local.sent += 1;
                        }
                        leg.seq = leg.seq.wrapping_add(1);
                        leg.ts = leg.ts.wrapping_add(160);
                        *next += Duration::from_millis(20);
                    }
                    for leg in &legs {
                        while let Some((n, rx)) = recv_stamped(&leg.sock, &mut buf) {
                            if n < 26 || buf[12..16] != MAGIC || buf[24] != 1 {
                                continue; // fill-in silence, RTCP or warm-up
                            }
                            let sent = u64::from_be_bytes(buf[16..24].try_into().unwrap());
                            local.received += 1;
                            local
                                .latencies_us
                                .push((rx.saturating_sub(sent) / 1_000) as u32);
                        }
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                let mut t = tally.lock().unwrap();
                t.sent += local.sent;
                t.received += local.received;
                t.latencies_us.extend(local.latencies_us);
            })
        })
        .collect();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let (cpu_workers, cpu_process) = (thread_cpu("ura-media-"), process_cpu());
    for t in threads {
        t.join().unwrap();
    }
    let (w0, p0) = *cpu_at.lock().unwrap();
    let wall = seconds as f64;
    let workers_cpu = cpu_workers - w0;
    let process = cpu_process - p0;
    let mut t = tally.lock().unwrap();
    t.latencies_us.sort_unstable();
    let l = &t.latencies_us;
    assert!(!l.is_empty(), "nothing relayed");
    let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    let stats = engine.worker_stats();
    println!(
        "{pairs} bridged pairs ({} legs), {seconds} s, 2 workers, {} senders: relay latency (kernel tx→rx) \
         p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs; sent {} received {} lost {}; \
         media workers CPU {:.1}% of a core ({:.3}% per bridged pair), whole process {:.1}%; \
         late ticks {}",
        2 * pairs,
        if burst { "bursty" } else { "spread" },
        pct(0.50),
        pct(0.99),
        pct(0.999),
        l[l.len() - 1],
        t.sent,
        t.received,
        t.sent.saturating_sub(t.received),
        100.0 * workers_cpu / wall,
        100.0 * workers_cpu / wall / pairs as f64,
        100.0 * process / wall,
        engine.late_ticks(),
    );
    println!("{stats:?}");
    for id in ids {
        engine.close(id);
    }
    engine.shutdown();
}

fn fastrand_like(seed: u32) -> u32 {
    seed.wrapping_mul(0x9E37_79B9).rotate_left(13) ^ 0xA5A5_5A5A
}
