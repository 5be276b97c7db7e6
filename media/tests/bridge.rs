//! Bridges over 127.0.0.1: two test phones, each talking to one leg.
//!
//! Assertions are on content (payloads, headers, counters); time only
//! bounds how long a test may wait.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use ura_media::rtp::{self, RtpHeader};
use ura_media::{
    g711, Codec, Direction, MediaConfig, MediaEngine, MediaError, MediaEvent, StreamId,
    StreamParams, StreamStats,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn engine(ports: (u16, u16)) -> (MediaEngine, Receiver<MediaEvent>) {
    let (tx, rx) = mpsc::channel();
    let cfg = MediaConfig {
        workers: 2,
        bind_ip: LOCALHOST,
        rtp_ports: ports,
        rtp_timeout: Duration::from_secs(10),
        rtcp_interval: Duration::from_secs(5),
        realtime: false,
    };
    let engine = MediaEngine::start(cfg, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    (engine, rx)
}

/// A test phone: one UDP socket talking to one leg.
struct Phone {
    sock: UdpSocket,
    leg: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Phone {
    fn on(ip: IpAddr) -> Phone {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        Phone {
            sock,
            leg: SocketAddr::new(LOCALHOST, 9),
            ssrc: fastrand_u32(),
            seq: 100,
            ts: 5_000,
        }
    }

    fn new() -> Phone {
        Phone::on(LOCALHOST)
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn recv(&self) -> Option<(RtpHeader, Vec<u8>)> {
        let mut buf = [0u8; 1500];
        loop {
            let n = self.sock.recv(&mut buf).ok()?;
            if let Ok(p) = rtp::parse(&buf[..n]) {
                if !(200..=204).contains(&buf[1]) {
                    return Some((p.header, p.payload.to_vec()));
                }
            }
        }
    }

    /// Drops whatever arrived so far (a ticking leg never pauses: bounded).
    fn flush(&self) {
        self.sock
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let end = Instant::now() + Duration::from_millis(100);
        while Instant::now() < end && self.recv().is_some() {}
        self.sock
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }

    fn send_raw(&self, pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) {
        let mut v = vec![0u8; 12];
        RtpHeader {
            payload_type: pt,
            marker,
            sequence: seq,
            timestamp: ts,
            ssrc: self.ssrc,
            ..RtpHeader::default()
        }
        .write(&mut v)
        .unwrap();
        v.extend_from_slice(payload);
        self.sock.send_to(&v, self.leg).unwrap();
    }

    /// Sends one 20 ms audio packet.
    fn send_audio(&mut self, pt: u8, payload: &[u8]) {
        self.send_raw(pt, false, self.seq, self.ts, payload);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
    }
}

fn fastrand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (t.subsec_nanos() ^ 0x5bd1_e995).rotate_left(t.as_secs() as u32 % 32)
}

fn params(remote: SocketAddr, codec: Codec, te: Option<u8>) -> StreamParams {
    StreamParams {
        remote_rtp: remote,
        remote_rtcp: None,
        codec,
        payload_type: codec.payload_type(),
        telephone_event_pt: te,
        direction: Direction::SendRecv,
        latch_only: false,
    }
}

/// Two started legs on one worker, each with its phone.
fn legs(
    eng: &MediaEngine,
    (ca, ta): (Codec, Option<u8>),
    (cb, tb): (Codec, Option<u8>),
) -> (StreamId, Phone, StreamId, Phone) {
    let (a, la) = eng.allocate().unwrap();
    let (b, lb) = eng.allocate_with(a).unwrap();
    let (mut pa, mut pb) = (Phone::new(), Phone::new());
    pa.leg = la;
    pb.leg = lb;
    eng.start_stream(a, params(pa.addr(), ca, ta));
    eng.start_stream(b, params(pb.addr(), cb, tb));
    // Both legs tick: learn that they run (generous on a loaded machine).
    for p in [&pa, &pb] {
        let end = Instant::now() + Duration::from_secs(3);
        while p.recv().is_none() {
            assert!(Instant::now() < end, "leg does not tick");
        }
    }
    (a, pa, b, pb)
}

fn wait_for<T>(
    rx: &Receiver<MediaEvent>,
    timeout: Duration,
    mut f: impl FnMut(&MediaEvent) -> Option<T>,
) -> T {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let e = rx
            .recv_timeout(left)
            .expect("timed out waiting for an event");
        if let Some(t) = f(&e) {
            return t;
        }
    }
}

fn closed_stats(rx: &Receiver<MediaEvent>, id: StreamId) -> StreamStats {
    wait_for(rx, Duration::from_secs(3), |e| match e {
        MediaEvent::Closed { stream, stats } if *stream == id => Some(stats.clone()),
        _ => None,
    })
}

/// Audio payload `i`: never 0xFF / 0xD5 (silence), so it is recognisable.
fn pattern(i: usize) -> Vec<u8> {
    (0..160).map(|j| ((i * 7 + j) % 150 + 20) as u8).collect()
}

/// Receives at `phone` until `want` packets satisfying `is_relay` have
/// arrived; returns everything received in order.
fn collect_until(
    phone: &Phone,
    want: usize,
    is_relay: impl Fn(&RtpHeader, &[u8]) -> bool,
) -> Vec<(RtpHeader, Vec<u8>)> {
    let end = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut relayed = 0;
    while relayed < want && Instant::now() < end {
        if let Some((h, p)) = phone.recv() {
            if is_relay(&h, &p) {
                relayed += 1;
            }
            got.push((h, p));
        }
    }
    assert_eq!(relayed, want, "relayed packets arrived");
    got
}

/// One clean stream: one SSRC, consecutive sequence numbers, timestamps
/// always moving forward by at least a frame and not jumping far.
fn assert_clean(packets: &[(RtpHeader, Vec<u8>)], ssrc: u32) {
    for w in packets.windows(2) {
        let (h0, h1) = (&w[0].0, &w[1].0);
        assert_eq!(h1.ssrc, ssrc);
        assert_eq!(h1.sequence, h0.sequence.wrapping_add(1), "{h0:?} → {h1:?}");
        let dt = h1.timestamp.wrapping_sub(h0.timestamp) as i32;
        if h1.payload_type == h0.payload_type && h1.payload_type < 96 {
            assert!(
                (160..8_000 * 2).contains(&dt),
                "ts step {dt}: {h0:?} → {h1:?}"
            );
        }
    }
}

#[test]
fn relays_both_ways_with_the_outgoing_legs_ssrc_seq_and_timeline() {
    let (eng, rx) = engine((22_000, 22_099));
    let (a, mut pa, b, mut pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    let ssrc_b = pb.recv().unwrap().0.ssrc;
    let ssrc_a = pa.recv().unwrap().0.ssrc;
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let sent: Vec<Vec<u8>> = (0..10).map(pattern).collect();
    for (i, p) in sent.iter().enumerate() {
        pa.send_audio(0, p);
        pb.send_audio(0, &pattern(100 + i));
        std::thread::sleep(Duration::from_millis(20));
    }
    let is_tone = |_: &RtpHeader, p: &[u8]| p.iter().all(|&b| b != 0xFF);
    let at_b = collect_until(&pb, 10, is_tone);
    let at_a = collect_until(&pa, 10, is_tone);
    assert_clean(&at_b, ssrc_b);
    assert_clean(&at_a, ssrc_a);
    let relayed_b: Vec<_> = at_b.iter().filter(|(h, p)| is_tone(h, p)).collect();
    let relayed_a: Vec<_> = at_a.iter().filter(|(h, p)| is_tone(h, p)).collect();
    for (i, (h, p)) in relayed_b.iter().enumerate() {
        assert_eq!(p, &sent[i], "byte-exact, in order");
        assert_eq!(h.payload_type, 0);
    }
    for (i, (_, p)) in relayed_a.iter().enumerate() {
        assert_eq!(p, &pattern(100 + i));
    }
    // The marker starts every run of relayed packets (the first, and one
    // after silence ticks filled a gap the sender left, which a loaded
    // test machine can cause); within a run, timestamps step by 160.
    for (k, w) in at_b.windows(2).enumerate() {
        let (prev, cur) = (&w[0], &w[1]);
        if !is_tone(&cur.0, &cur.1) {
            continue;
        }
        let run_start = !is_tone(&prev.0, &prev.1);
        assert_eq!(
            cur.0.marker,
            run_start,
            "marker at packet {} only where a run starts",
            k + 1
        );
        if !run_start {
            assert_eq!(cur.0.timestamp.wrapping_sub(prev.0.timestamp), 160);
        }
    }
    assert!(relayed_b.first().is_some_and(|(h, _)| h.marker));
    eng.close(a);
    eng.close(b);
    let (sa, sb) = (closed_stats(&rx, a), closed_stats(&rx, b));
    assert_eq!(sb.packets_relayed, 10);
    assert_eq!(sa.packets_relayed, 10);
    assert_eq!(sa.relay_dropped + sb.relay_dropped, 0);
    assert_eq!(sa.packets_received, 10);
}

#[test]
fn transcodes_pcmu_to_pcma_and_back_exactly() {
    let (eng, rx) = engine((22_100, 22_199));
    let (a, mut pa, b, mut pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcma, None));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    // Every code of each law, in two packets per direction.
    let codes: Vec<u8> = (0..=255u8).chain(0..64).collect();
    for chunk in codes.chunks(160) {
        pa.send_audio(0, chunk);
        pb.send_audio(8, chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    let not_silence = |h: &RtpHeader, p: &[u8]| {
        let _ = h;
        !(p.iter().all(|&b| b == 0xD5) || p.iter().all(|&b| b == 0xFF))
    };
    let at_b = collect_until(&pb, 2, not_silence);
    let at_a = collect_until(&pa, 2, not_silence);
    let at_b: Vec<u8> = at_b
        .iter()
        .filter(|(h, p)| not_silence(h, p))
        .flat_map(|(h, p)| {
            assert_eq!(h.payload_type, 8);
            p.clone()
        })
        .collect();
    let at_a: Vec<u8> = at_a
        .iter()
        .filter(|(h, p)| not_silence(h, p))
        .flat_map(|(h, p)| {
            assert_eq!(h.payload_type, 0);
            p.clone()
        })
        .collect();
    assert_eq!(at_b.len(), codes.len());
    assert_eq!(at_a.len(), codes.len());
    for (i, &c) in codes.iter().enumerate() {
        // The sample phone B hears is the A-law quantisation of what A said.
        let said = g711::ulaw_decode(c);
        assert_eq!(at_b[i], g711::alaw_encode(said), "µ-law {c:#04x}");
        assert_eq!(
            g711::alaw_decode(at_b[i]),
            g711::alaw_decode(g711::alaw_encode(said))
        );
        assert_eq!(
            at_a[i],
            g711::ulaw_encode(g711::alaw_decode(c)),
            "A-law {c:#04x}"
        );
    }
    eng.close(a);
    eng.close(b);
    closed_stats(&rx, a);
    closed_stats(&rx, b);
}

fn event_payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [event, if end { 0x80 } else { 0 } | 10, d[0], d[1]]
}

#[test]
fn telephone_events_are_relayed_with_the_outgoing_payload_type() {
    let (eng, rx) = engine((22_200, 22_299));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, Some(101)), (Codec::Pcma, Some(96)));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    pa.send_audio(0, &pattern(1));
    let ts = pa.ts;
    for (i, (end, dur)) in [(false, 400), (false, 800), (true, 1200), (true, 1200)]
        .into_iter()
        .enumerate()
    {
        pa.send_raw(101, i == 0, pa.seq, ts, &event_payload(5, end, dur));
        pa.seq = pa.seq.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    let events = collect_until(&pb, 4, |h, _| h.payload_type == 96);
    let events: Vec<_> = events
        .iter()
        .filter(|(h, _)| h.payload_type == 96)
        .collect();
    assert!(events
        .iter()
        .all(|(h, _)| h.timestamp == events[0].0.timestamp));
    assert_eq!(events[0].1, event_payload(5, false, 400));
    assert_eq!(events[3].1, event_payload(5, true, 1200));
    assert!(events[0].0.marker);
    let digit = wait_for(&rx, Duration::from_secs(2), |e| match e {
        MediaEvent::Digit { stream, digit, .. } if *stream == a => Some(*digit),
        _ => None,
    });
    assert_eq!(digit.to_char(), '5');

    // A leg without telephone-event: dropped there, still reported here.
    eng.close(b);
    closed_stats(&rx, b);
    let (c, lc) = eng.allocate_with(a).unwrap();
    let pc = Phone::new();
    eng.start_stream(c, params(pc.addr(), Codec::Pcmu, None));
    eng.bridge(a, c).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let _ = lc;
    for (i, end) in [false, true, true].into_iter().enumerate() {
        let ts = pa.ts.wrapping_add(4000);
        pa.send_raw(101, i == 0, pa.seq, ts, &event_payload(7, end, 400));
        pa.seq = pa.seq.wrapping_add(1);
    }
    let digit = wait_for(&rx, Duration::from_secs(2), |e| match e {
        MediaEvent::Digit { stream, digit, .. } if *stream == a => Some(*digit),
        _ => None,
    });
    assert_eq!(digit.to_char(), '7');
    std::thread::sleep(Duration::from_millis(50));
    eng.close(c);
    let sc = closed_stats(&rx, c);
    assert_eq!(sc.relay_dropped, 3);
    assert_eq!(sc.packets_relayed, 0);
    eng.close(a);
}

#[test]
fn unbridge_rebridge_and_close_keep_one_clean_stream() {
    let (eng, rx) = engine((22_300, 22_399));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    let ssrc_b = pb.recv().unwrap().0.ssrc;
    let is_tone = |_: &RtpHeader, p: &[u8]| p.iter().all(|&b| b != 0xFF);
    let is_silence = |_: &RtpHeader, p: &[u8]| p.iter().all(|&b| b == 0xFF);
    let mut heard = Vec::new();

    eng.bridge(a, b).unwrap();
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        pa.send_audio(0, &pattern(i));
    }
    heard.extend(collect_until(&pb, 5, is_tone));
    eng.unbridge(b); // either leg
                     // Back to silence ticks of its own.
    heard.extend(collect_until(&pb, 5, is_silence));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    for i in 5..10 {
        pa.send_audio(0, &pattern(i));
        std::thread::sleep(Duration::from_millis(20));
    }
    let again = collect_until(&pb, 5, is_tone);
    let first = again.iter().position(|(h, p)| is_tone(h, p)).unwrap();
    assert!(again[first].0.marker, "marker after the switch back");
    heard.extend(again);
    eng.close(a);
    closed_stats(&rx, a);
    heard.extend(collect_until(&pb, 5, is_silence));
    assert_clean(&heard, ssrc_b);
    let tones: Vec<_> = heard.iter().filter(|(h, p)| is_tone(h, p)).collect();
    assert_eq!(tones.len(), 10);
    for (i, (_, p)) in tones.iter().enumerate() {
        assert_eq!(p, &pattern(i));
    }
    eng.close(b);
    let sb = closed_stats(&rx, b);
    assert_eq!(sb.packets_relayed, 10);
}

#[test]
fn direction_is_honoured_while_bridged() {
    let (eng, rx) = engine((22_400, 22_499));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    eng.bridge(a, b).unwrap();
    // The agent's leg on hold (inactive): nothing goes out to it.
    let mut pbp = params(pb.addr(), Codec::Pcmu, None);
    pbp.direction = Direction::Inactive;
    eng.update(b, pbp);
    std::thread::sleep(Duration::from_millis(40));
    pb.flush();
    for i in 0..3 {
        pa.send_audio(0, &pattern(i));
    }
    pb.sock
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    assert!(pb.recv().is_none(), "an inactive leg sends nothing");
    // The caller's leg sendonly (we hold the caller): what it sends is not forwarded.
    pbp.direction = Direction::SendRecv;
    eng.update(b, pbp);
    let mut pap = params(pa.addr(), Codec::Pcmu, None);
    pap.direction = Direction::SendOnly;
    eng.update(a, pap);
    std::thread::sleep(Duration::from_millis(40));
    for i in 3..6 {
        pa.send_audio(0, &pattern(i));
    }
    std::thread::sleep(Duration::from_millis(100));
    pb.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + Duration::from_millis(150);
    while Instant::now() < end {
        if let Some((_, p)) = pb.recv() {
            assert!(
                p.iter().all(|&b| b == 0xFF),
                "only fill-in silence reaches B"
            );
        }
    }
    eng.close(b);
    let sb = closed_stats(&rx, b);
    assert_eq!(sb.packets_relayed, 0);
    assert_eq!(sb.relay_dropped, 6);
    eng.close(a);
}

#[test]
fn strangers_are_never_latched_played_or_relayed() {
    let (eng, rx) = engine((22_500, 22_599));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    pa.send_audio(0, &pattern(0)); // the caller latches
    let _ = collect_until(&pb, 1, |_, p| p.iter().all(|&b| b != 0xFF));
    // A stranger on the same IP and on another IP injects audio.
    let mut strangers = [
        Phone::new(),
        Phone::on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
    ];
    for s in &mut strangers {
        s.leg = pa.leg;
        for _ in 0..5 {
            s.send_audio(0, &[0x42; 160]);
        }
    }
    for i in 1..4 {
        std::thread::sleep(Duration::from_millis(20));
        pa.send_audio(0, &pattern(i));
    }
    let got = collect_until(&pb, 3, |_, p| p.iter().all(|&b| b != 0xFF));
    assert!(
        got.iter().all(|(_, p)| p[0] != 0x42),
        "nothing injected reached B"
    );
    eng.close(a);
    let sa = closed_stats(&rx, a);
    assert_eq!(sa.packets_ignored, 10);
    assert_eq!(sa.packets_received, 4);
    assert_eq!(sa.remote_rtp, Some(pa.addr()));
    eng.close(b);
    assert_eq!(closed_stats(&rx, b).packets_relayed, 4);
}

#[test]
fn a_stranger_first_on_a_fresh_port_cannot_keep_the_audio() {
    let (eng, rx) = engine((22_600, 22_699));
    let (a, la) = eng.allocate().unwrap();
    let mut caller = Phone::new();
    caller.leg = la;
    eng.start_stream(a, params(caller.addr(), Codec::Pcmu, None));
    // The stranger (another IP) is first: latched, but only provisionally.
    let mut stranger = Phone::on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    stranger.leg = la;
    stranger.send_audio(0, &[0x42; 160]);
    std::thread::sleep(Duration::from_millis(50));
    // The caller, from the SDP address's IP, takes the latch for good.
    caller.send_audio(0, &pattern(0));
    std::thread::sleep(Duration::from_millis(50));
    caller.flush();
    assert!(caller.recv().is_some(), "our audio goes to the caller");
    stranger.flush();
    for _ in 0..3 {
        stranger.send_audio(0, &[0x42; 160]);
    }
    std::thread::sleep(Duration::from_millis(50));
    stranger.flush();
    stranger
        .sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(
        stranger.recv().is_none(),
        "nothing goes to the stranger any more"
    );
    eng.close(a);
    let sa = closed_stats(&rx, a);
    assert_eq!(sa.remote_rtp, Some(caller.addr()));
    assert_eq!(sa.packets_ignored, 3);
}

#[test]
fn bridge_needs_two_streams_of_one_worker() {
    let (eng, rx) = engine((22_700, 22_799));
    let (a, _) = eng.allocate().unwrap();
    let (b, _) = eng.allocate().unwrap(); // least loaded: the other worker
    assert!(matches!(eng.bridge(a, b), Err(MediaError::Bridge(_))));
    assert!(matches!(eng.bridge(a, a), Err(MediaError::Bridge(_))));
    let (c, _) = eng.allocate_with(b).unwrap();
    assert!(eng.bridge(b, c).is_ok());
    for id in [a, b, c] {
        eng.close(id);
        closed_stats(&rx, id);
    }
}

#[test]
fn exhausted_range_refuses_quickly_and_reuses_closed_ports() {
    let (eng, rx) = engine((22_800, 22_819)); // ten pairs
    assert_eq!(eng.free_port_pairs(), 10);
    let mut ids = Vec::new();
    while let Ok((id, local)) = eng.allocate() {
        ids.push((id, local));
    }
    assert!(!ids.is_empty(), "pairs are free");
    let t = Instant::now();
    for _ in 0..50 {
        assert!(matches!(
            eng.allocate(),
            Err(MediaError::NoFreePorts { .. })
        ));
    }
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let (id, local) = ids.pop().unwrap();
    eng.close(id);
    closed_stats(&rx, id);
    assert_eq!(eng.free_port_pairs(), 10 - ids.len());
    // Eight attempts cover any pairs other programs hold.
    let (again, local2) = eng.allocate().unwrap();
    assert_eq!(local2, local);
    ids.push((again, local2));
    for (id, _) in ids {
        eng.close(id);
        closed_stats(&rx, id);
    }
    assert_eq!(eng.free_port_pairs(), 10);
}

/// Frequency of the non-silent 20 ms frames of `x`, from zero crossings.
fn frequency(x: &[i16]) -> f64 {
    let mut crossings = 0;
    let mut last = 0i16;
    for &s in x.iter().filter(|s| s.unsigned_abs() >= 64) {
        if last != 0 && (s > 0) != (last > 0) {
            crossings += 1;
        }
        last = s;
    }
    crossings as f64 / 2.0 / voiced(x)
}

/// Seconds of 20 ms frames holding something other than silence.
fn voiced(x: &[i16]) -> f64 {
    let frames = x
        .chunks(160)
        .filter(|f| f.iter().any(|s| s.unsigned_abs() >= 64))
        .count();
    frames as f64 * 0.02
}

fn tone(freq: f64, n: usize, codec: Codec) -> Vec<u8> {
    let pcm: Vec<i16> = (0..n)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect();
    let mut out = vec![0u8; n];
    g711::encode(codec, &pcm, &mut out);
    out
}

#[test]
fn stereo_recording_has_each_leg_on_its_channel() {
    let (eng, _rx) = engine((22_900, 22_999));
    let (a, mut pa, b, mut pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcma, None));
    eng.bridge(a, b).unwrap();
    let path: PathBuf = std::env::temp_dir().join(format!("ura-bridge-{}.wav", std::process::id()));
    let (done_tx, done) = mpsc::channel();
    eng.record_bridge(a, path.clone(), true, move |r| {
        let _ = done_tx.send(r);
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let (ta, tb) = (
        tone(400.0, 8000, Codec::Pcmu),
        tone(1000.0, 8000, Codec::Pcma),
    );
    let start = Instant::now();
    for i in 0..50 {
        pa.send_audio(0, &ta[i * 160..(i + 1) * 160]);
        pb.send_audio(8, &tb[i * 160..(i + 1) * 160]);
        let next = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(60));
    let elapsed = start.elapsed().as_secs_f64();
    eng.unbridge(a);
    let r = done.recv_timeout(Duration::from_secs(3)).unwrap();
    assert_eq!((r.stream, &r.path), (a, &path));
    let (seconds, dropped) = (r.seconds, r.dropped_frames);
    assert_eq!(dropped, 0);
    assert!(seconds >= 0.9 && seconds <= elapsed + 0.5, "{seconds} s");
    let mut wav = hound::WavReader::open(&path).unwrap();
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    assert!((samples.len() as f64 / 16_000.0 - seconds).abs() < 0.001);
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let (fl, fr) = (frequency(&left), frequency(&right));
    assert!((fl - 400.0).abs() < 40.0, "left {fl} Hz");
    assert!((fr - 1000.0).abs() < 100.0, "right {fr} Hz");
    // About one second of each tone (less when a loaded machine delayed
    // the test's senders: the tones above already say which side is where).
    assert!((0.1..1.3).contains(&voiced(&left)), "{}", voiced(&left));
    assert!((0.1..1.3).contains(&voiced(&right)), "{}", voiced(&right));
    let _ = std::fs::remove_file(&path);
    eng.close(a);
    eng.close(b);
}

#[test]
fn mono_recording_mixes_both_sides_and_ends_on_close() {
    let (eng, _rx) = engine((23_000, 23_099));
    let (a, mut pa, b, _pb) = legs(&eng, (Codec::Pcma, None), (Codec::Pcmu, None));
    eng.bridge(a, b).unwrap();
    let path: PathBuf =
        std::env::temp_dir().join(format!("ura-bridge-mono-{}.wav", std::process::id()));
    let (done_tx, done) = mpsc::channel();
    eng.record_bridge(a, path.clone(), false, move |r| {
        let _ = done_tx.send(r);
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let t = tone(600.0, 4000, Codec::Pcma);
    for f in t.chunks(160) {
        pa.send_audio(8, f);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(60));
    eng.close(b); // closing either leg ends the recording
    let r = done.recv_timeout(Duration::from_secs(3)).unwrap();
    assert_eq!(r.stream, a);
    let seconds = r.seconds;
    let mut wav = hound::WavReader::open(&path).unwrap();
    assert_eq!(wav.spec().channels, 1);
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    assert!((samples.len() as f64 / 8000.0 - seconds).abs() < 0.001);
    let f = frequency(&samples);
    assert!((f - 600.0).abs() < 60.0, "{f} Hz");
    assert!((0.35..0.65).contains(&voiced(&samples)));
    let _ = std::fs::remove_file(&path);
    eng.close(a);
}

/// Whether any worker polls its sockets (many packets a second).
fn polling(eng: &MediaEngine) -> bool {
    eng.worker_stats().iter().any(|w| w.polled)
}

#[test]
fn a_busy_worker_polls_its_sockets_and_still_relays_every_packet_in_order() {
    let (eng, rx) = engine((23_100, 23_199));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(!polling(&eng), "a quiet worker wakes per packet");
    const SENT: usize = 5_000;
    let reader = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < SENT && Instant::now() < end {
            if let Some((_, p)) = pb.recv() {
                if p.iter().any(|&x| x != 0xFF) {
                    got.push(p);
                }
            }
        }
        (got, pb)
    });
    // About 10,000 packets a second (20 every 2 ms): past the threshold.
    let mut saw_polling = false;
    for i in 0..SENT {
        pa.send_audio(0, &pattern(i));
        if i % 20 == 19 {
            std::thread::sleep(Duration::from_millis(2));
            saw_polling |= polling(&eng);
        }
    }
    let (got, pb) = reader.join().unwrap();
    assert!(saw_polling, "the worker never switched to polling");
    assert_eq!(got.len(), SENT, "every packet relayed");
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p, &pattern(i), "packet {i}: byte-exact, in order");
    }
    // Quiet again: back to waking per packet.
    let end = Instant::now() + Duration::from_secs(3);
    while polling(&eng) {
        assert!(Instant::now() < end, "still polling after the load ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Relaying still works after the switch back.
    pa.send_audio(0, &pattern(7));
    let after = collect_until(&pb, 1, |_, p| p.iter().any(|&x| x != 0xFF));
    assert_eq!(after.last().map(|(_, p)| p), Some(&pattern(7)));
    eng.close(a);
    eng.close(b);
    let (sa, sb) = (closed_stats(&rx, a), closed_stats(&rx, b));
    assert_eq!(sa.packets_received, SENT as u64 + 1);
    assert_eq!(sb.packets_relayed, SENT as u64 + 1);
    assert_eq!(sa.relay_dropped + sb.relay_dropped, 0);
}

/// `ms` of the DTMF tone of `d` in `codec`, as 20 ms frames.
fn dtmf_frames(d: ura_media::Digit, ms: usize, codec: Codec) -> Vec<Vec<u8>> {
    let (lo, hi) = d.frequencies();
    let pcm: Vec<i16> = (0..ms * 8)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let v = 7000.0 * (2.0 * std::f32::consts::PI * lo * t).sin()
                + 6000.0 * (2.0 * std::f32::consts::PI * hi * t).sin();
            v as i16
        })
        .collect();
    pcm.chunks(160)
        .map(|c| {
            let mut out = vec![0u8; c.len()];
            g711::encode(codec, c, &mut out);
            out
        })
        .collect()
}

#[test]
fn inband_digits_pass_through_a_bridge_and_are_detected_again_after_it() {
    let (eng, rx) = engine((23_200, 23_299));
    let (a, mut pa, b, pb) = legs(&eng, (Codec::Pcmu, None), (Codec::Pcmu, None));
    eng.bridge(a, b).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let tone = dtmf_frames(ura_media::Digit::D5, 200, Codec::Pcmu);
    for f in &tone {
        pa.send_audio(0, f);
        std::thread::sleep(Duration::from_millis(20));
    }
    // The other side hears the tone, byte for byte; ura looks for no digit
    // there (the engine ignores a bridged caller's keys).
    let heard = collect_until(&pb, tone.len(), |_, p| p.iter().any(|&x| x != 0xFF));
    let heard: Vec<_> = heard
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.iter().any(|&x| x != 0xFF))
        .collect();
    assert_eq!(heard, tone);
    std::thread::sleep(Duration::from_millis(100));
    let digits: Vec<_> = rx
        .try_iter()
        .filter(|e| matches!(e, MediaEvent::Digit { .. }))
        .collect();
    assert!(
        digits.is_empty(),
        "no digit detected while bridged: {digits:?}"
    );
    // Unbridged, the same tone is a digit again.
    eng.unbridge(a);
    std::thread::sleep(Duration::from_millis(60));
    for f in &tone {
        pa.send_audio(0, f);
        std::thread::sleep(Duration::from_millis(20));
    }
    let digit = wait_for(&rx, Duration::from_secs(3), |e| match e {
        MediaEvent::Digit { stream, digit, .. } if *stream == a => Some(*digit),
        _ => None,
    });
    assert_eq!(digit, ura_media::Digit::D5);
    eng.close(a);
    eng.close(b);
}
