//! End-to-end tests of the media workers over 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use ura_media::dtmf::{HIGH_GROUP, LOW_GROUP};
use ura_media::rtp::{self, RtpHeader};
use ura_media::{
    g711, Codec, Digit, Direction, DtmfSource, MediaConfig, MediaEngine, MediaEvent, PlayId,
    PlayMode, PromptFrames, StreamId, StreamParams,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn engine(ports: (u16, u16), timeout_ms: u64, rtcp_ms: u64) -> (MediaEngine, Receiver<MediaEvent>) {
    let (tx, rx) = mpsc::channel();
    let cfg = MediaConfig {
        workers: 2,
        bind_ip: LOCALHOST,
        rtp_ports: ports,
        rtp_timeout: Duration::from_millis(timeout_ms),
        rtcp_interval: Duration::from_millis(rtcp_ms),
        realtime: false,
    };
    let engine = MediaEngine::start(cfg, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    (engine, rx)
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn params(remote: SocketAddr) -> StreamParams {
    StreamParams {
        remote_rtp: remote,
        remote_rtcp: None,
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event_pt: Some(101),
        direction: Direction::SendRecv,
        latch_only: false,
    }
}

fn recv_rtp(s: &UdpSocket) -> Option<(RtpHeader, Vec<u8>, Instant)> {
    let mut buf = [0u8; 1500];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    let p = rtp::parse(&buf[..n]).ok()?;
    Some((p.header, p.payload.to_vec(), Instant::now()))
}

fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    RtpHeader {
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
        ..RtpHeader::default()
    }
    .write(&mut v)
    .unwrap();
    v.extend_from_slice(payload);
    v
}

/// Waits for the first event matching `f`, failing after `timeout`.
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

fn closed_stats(rx: &Receiver<MediaEvent>, id: StreamId) -> ura_media::StreamStats {
    wait_for(rx, Duration::from_secs(2), |e| match e {
        MediaEvent::Closed { stream, stats } if *stream == id => Some(stats.clone()),
        _ => None,
    })
}

#[test]
fn plays_prompt_frames_in_order_with_pacing() {
    let (eng, rx) = engine((21_000, 21_099), 10_000, 5_000);
    let remote = peer();
    let (id, local) = eng.allocate().unwrap();
    assert_eq!(local.ip(), LOCALHOST);
    assert_eq!(local.port() % 2, 0);
    let pcm: Vec<i16> = (0..25 * 160)
        .map(|i| ((i * 37 % 2000) as i16 - 1000) * 8)
        .collect();
    let prompt = PromptFrames::from_pcm(&pcm);
    assert_eq!(prompt.frame_count(), 25);
    eng.start_stream(id, params(remote.local_addr().unwrap()));
    std::thread::sleep(Duration::from_millis(50));
    eng.play(id, PlayId(9), prompt.clone(), PlayMode::Replace, false);

    let mut packets = Vec::new();
    while packets.len() < 60 {
        packets.push(recv_rtp(&remote).expect("RTP should keep flowing"));
    }
    let (first, _, _) = &packets[0];
    assert!(
        first.marker,
        "first packet of the stream carries the marker"
    );
    for w in packets.windows(2) {
        assert_eq!(w[1].0.sequence, w[0].0.sequence.wrapping_add(1));
        assert_eq!(w[1].0.timestamp, w[0].0.timestamp.wrapping_add(160));
        assert_eq!(w[1].0.ssrc, w[0].0.ssrc);
        assert_eq!(w[1].1.len(), 160);
    }
    let start = packets
        .iter()
        .position(|(_, p, _)| p == prompt.frame(Codec::Pcmu, 0))
        .expect("prompt frame 0 was sent");
    assert!(start >= 1, "silence before the prompt");
    assert!(packets[..start]
        .iter()
        .all(|(_, p, _)| p.iter().all(|&b| b == 0xFF)));
    assert!(packets[start].0.marker, "marker on the first prompt packet");
    for i in 0..25 {
        assert_eq!(
            packets[start + i].1,
            prompt.frame(Codec::Pcmu, i),
            "frame {i}"
        );
        if i > 0 {
            assert!(!packets[start + i].0.marker);
        }
    }
    assert!(
        packets[start + 25].1.iter().all(|&b| b == 0xFF),
        "silence after the prompt"
    );
    let play = wait_for(&rx, Duration::from_secs(1), |e| match e {
        MediaEvent::PlayFinished { stream, play } if *stream == id => Some(*play),
        _ => None,
    });
    assert_eq!(play, PlayId(9));

    // Paced, not sent in a burst: 20 ms apart on average over 49 intervals.
    // The receive times carry this thread's scheduling delays, so the bound
    // is loose; the precise spacing is measured by `benches/load` instead.
    let mean = (packets[59].2 - packets[10].2).as_secs_f64() * 1000.0 / 49.0;
    assert!((mean - 20.0).abs() < 3.0, "mean spacing {mean} ms");

    eng.close(id);
    let stats = closed_stats(&rx, id);
    assert!(stats.packets_sent >= 60, "{stats:?}");
    assert_eq!(stats.octets_sent, stats.packets_sent * 160);
    eng.shutdown();
}

#[test]
fn looped_play_never_finishes_and_replace_drops_queue() {
    let (eng, rx) = engine((21_100, 21_199), 10_000, 5_000);
    let remote = peer();
    let (id, _) = eng.allocate().unwrap();
    let a = PromptFrames::from_pcm(&[1000; 2 * 160]);
    let b = PromptFrames::from_pcm(&[-1000; 3 * 160]);
    eng.start_stream(id, params(remote.local_addr().unwrap()));
    eng.play(id, PlayId(1), a.clone(), PlayMode::Replace, true);
    eng.play(id, PlayId(2), b.clone(), PlayMode::Append, false);
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx
        .try_iter()
        .all(|e| !matches!(e, MediaEvent::PlayFinished { .. })));
    eng.play(id, PlayId(3), b.clone(), PlayMode::Replace, false);
    let play = wait_for(&rx, Duration::from_secs(1), |e| match e {
        MediaEvent::PlayFinished { play, .. } => Some(*play),
        _ => None,
    });
    assert_eq!(play, PlayId(3), "items 1 and 2 were replaced, not finished");
    eng.play(id, PlayId(4), b, PlayMode::Append, false);
    eng.stop_play(id);
    std::thread::sleep(Duration::from_millis(150));
    assert!(rx
        .try_iter()
        .all(|e| !matches!(e, MediaEvent::PlayFinished { .. })));
    eng.close(id);
    closed_stats(&rx, id);
}

#[test]
fn symmetric_rtp_latches_on_first_source() {
    let (eng, rx) = engine((21_200, 21_299), 10_000, 5_000);
    let (sdp, real, third) = (peer(), peer(), peer());
    let (id, local) = eng.allocate().unwrap();
    eng.start_stream(id, params(sdp.local_addr().unwrap()));
    assert!(
        recv_rtp(&sdp).is_some(),
        "before latching we send to the SDP address"
    );

    let audio = [0xFFu8; 160];
    real.send_to(&rtp_packet(0, 1, 0, 77, &audio), local)
        .unwrap();
    // Packets now go to the real source.
    let got = recv_rtp(&real).expect("RTP follows the latched source");
    assert_eq!(got.1.len(), 160);
    // A third party is ignored: we keep sending to `real`.
    for seq in 0..5 {
        third
            .send_to(&rtp_packet(0, seq, 0, 99, &audio), local)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    // Flush what the SDP address got before latching, then expect silence there.
    sdp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while recv_rtp(&sdp).is_some() {}
    assert!(
        recv_rtp(&sdp).is_none(),
        "nothing goes to the SDP address once latched"
    );
    third
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(
        recv_rtp(&third).is_none(),
        "nothing goes to the third party"
    );
    assert!(recv_rtp(&real).is_some());
    // Wrong payload type from the latched source is ignored too.
    real.send_to(&rtp_packet(18, 2, 160, 77, &audio), local)
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    eng.close(id);
    let stats = closed_stats(&rx, id);
    assert_eq!(stats.packets_received, 1);
    assert_eq!(stats.packets_ignored, 6);
    assert_eq!(stats.remote_rtp, Some(real.local_addr().unwrap()));
}

#[test]
fn update_to_new_remote_resets_latch_and_hold_stops_sending() {
    let (eng, rx) = engine((21_300, 21_399), 10_000, 5_000);
    let (a, b) = (peer(), peer());
    let (id, local) = eng.allocate().unwrap();
    eng.start_stream(id, params(a.local_addr().unwrap()));
    a.send_to(&rtp_packet(0, 1, 0, 5, &[0xFF; 160]), local)
        .unwrap();
    assert!(recv_rtp(&a).is_some());
    eng.update(id, params(b.local_addr().unwrap()));
    assert!(
        recv_rtp(&b).is_some(),
        "new SDP address is used after update"
    );
    let mut held = params(b.local_addr().unwrap());
    held.direction = Direction::RecvOnly;
    eng.update(id, held);
    std::thread::sleep(Duration::from_millis(60));
    b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    while recv_rtp(&b).is_some() {}
    b.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(recv_rtp(&b).is_none(), "no RTP while RecvOnly");
    eng.update(id, params(b.local_addr().unwrap()));
    let (h1, _, _) = recv_rtp(&b).expect("resumes after hold");
    assert!(h1.marker, "resuming starts a talkspurt");
    let (h2, _, _) = recv_rtp(&b).unwrap();
    // Timestamps kept running while on hold.
    assert_eq!(h2.timestamp.wrapping_sub(h1.timestamp), 160);
    eng.close(id);
    closed_stats(&rx, id);
}

fn event_payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
}

#[test]
fn rfc4733_events_yield_one_digit_per_press() {
    let (eng, rx) = engine((21_400, 21_499), 10_000, 5_000);
    let remote = peer();
    let (id, local) = eng.allocate().unwrap();
    eng.start_stream(id, params(remote.local_addr().unwrap()));
    let mut seq = 1000u16;
    for (ts, event) in [(16_000u32, 5u8), (17_600, 11)] {
        let mut packets = vec![event_payload(event, false, 160)];
        packets.push(event_payload(event, false, 320));
        packets.push(event_payload(event, false, 480));
        packets.extend([event_payload(event, true, 800); 3]);
        for p in packets {
            remote
                .send_to(&rtp_packet(101, seq, ts, 42, &p), local)
                .unwrap();
            seq += 1;
        }
    }
    let mut digits = Vec::new();
    let end = Instant::now() + Duration::from_millis(400);
    while let Ok(e) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        if let MediaEvent::Digit {
            stream,
            digit,
            source,
        } = e
        {
            assert_eq!(stream, id);
            assert_eq!(source, DtmfSource::Rfc4733);
            digits.push(digit);
        }
    }
    assert_eq!(digits, vec![Digit::D5, Digit::Hash]);
    eng.close(id);
}

fn dtmf_tone(d: Digit, ms: usize) -> Vec<i16> {
    let (lo, hi) = d.frequencies();
    assert!(LOW_GROUP.contains(&lo) && HIGH_GROUP.contains(&hi));
    (0..ms * 8)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let v = 7000.0 * (2.0 * std::f32::consts::PI * lo * t).sin()
                + 6000.0 * (2.0 * std::f32::consts::PI * hi * t).sin();
            v as i16
        })
        .collect()
}

#[test]
fn inband_tone_in_rtp_audio_is_detected() {
    let (eng, rx) = engine((21_500, 21_599), 10_000, 5_000);
    let remote = peer();
    let (id, local) = eng.allocate().unwrap();
    let mut p = params(remote.local_addr().unwrap());
    p.codec = Codec::Pcma;
    p.payload_type = 8;
    eng.start_stream(id, p);
    let mut pcm = vec![0i16; 800];
    pcm.extend(dtmf_tone(Digit::D7, 100));
    pcm.extend(vec![0i16; 800]);
    let mut payload = [0u8; 160];
    for (i, frame) in pcm.chunks_exact(160).enumerate() {
        g711::encode(Codec::Pcma, frame, &mut payload);
        let pkt = rtp_packet(8, i as u16, i as u32 * 160, 3, &payload);
        remote.send_to(&pkt, local).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let (digit, source) = wait_for(&rx, Duration::from_secs(1), |e| match e {
        MediaEvent::Digit { digit, source, .. } => Some((*digit, *source)),
        _ => None,
    });
    assert_eq!((digit, source), (Digit::D7, DtmfSource::Inband));
    eng.close(id);
    let stats = closed_stats(&rx, id);
    assert_eq!(stats.packets_received, pcm.len() as u64 / 160);
    assert_eq!(stats.packets_lost, 0);
}

#[test]
fn rtp_timeout_fires_once_and_not_on_hold() {
    let (eng, rx) = engine((21_600, 21_699), 300, 5_000);
    let (a, b) = (peer(), peer());
    let (live, _) = eng.allocate().unwrap();
    let (held, _) = eng.allocate().unwrap();
    let (never_started, _) = eng.allocate().unwrap();
    let t0 = Instant::now();
    eng.start_stream(live, params(a.local_addr().unwrap()));
    let mut hp = params(b.local_addr().unwrap());
    hp.direction = Direction::RecvOnly;
    eng.start_stream(held, hp);
    let stream = wait_for(&rx, Duration::from_secs(2), |e| match e {
        MediaEvent::RtpTimeout { stream } => Some(*stream),
        _ => None,
    });
    let elapsed = t0.elapsed();
    assert_eq!(stream, live);
    assert!(
        elapsed >= Duration::from_millis(280),
        "fired after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1_500),
        "fired after {elapsed:?}"
    );
    std::thread::sleep(Duration::from_millis(700));
    let again: Vec<_> = rx
        .try_iter()
        .filter(|e| matches!(e, MediaEvent::RtpTimeout { .. }))
        .collect();
    assert!(
        again.is_empty(),
        "no repeat and nothing for the held stream: {again:?}"
    );
    eng.close(never_started);
    let stats = closed_stats(&rx, never_started);
    assert_eq!(stats, Default::default());
    eng.shutdown();
}

/// Two adjacent ports (RTP, RTCP) for the fake remote.
fn peer_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = peer();
        let port = rtp.local_addr().unwrap().port();
        if port & 1 == 0 {
            if let Ok(rtcp) = UdpSocket::bind((LOCALHOST, port + 1)) {
                rtcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                return (rtp, rtcp);
            }
        }
    }
    panic!("no adjacent port pair");
}

#[test]
fn rtcp_sender_report_and_remote_receiver_report() {
    let (eng, rx) = engine((21_700, 21_799), 10_000, 200);
    let (rtp_sock, rtcp_sock) = peer_pair();
    let (id, local) = eng.allocate().unwrap();
    eng.start_stream(id, params(rtp_sock.local_addr().unwrap()));
    // The remote sends some audio with one gap (seq 3 missing).
    for seq in [1u16, 2, 4, 5, 6] {
        let pkt = rtp_packet(0, seq, seq as u32 * 160, 0xBEEF, &[0xFF; 160]);
        rtp_sock.send_to(&pkt, local).unwrap();
    }
    let (our_ssrc, _, _) = recv_rtp(&rtp_sock).unwrap();
    let our_ssrc = our_ssrc.ssrc;
    // An SR arrives at RTP port + 1 with a block about the remote. Its
    // fields are read at their RFC 3550 (6.4.1) offsets, not with ura's
    // parser.
    let mut buf = [0u8; 1500];
    let (n, from) = rtcp_sock.recv_from(&mut buf).expect("an SR within ~300 ms");
    assert_eq!(from.port(), local.port() + 1, "sent from our RTCP port");
    let word = |at: usize| u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    // V=2, P=0, RC=1; PT=200 (SR); length 12 (52 bytes: header, sender
    // info, one report block).
    assert_eq!(buf[0], 0x81, "V=2 P=0 RC=1");
    assert_eq!(buf[1], 200, "SR");
    assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 12);
    assert_eq!(word(4), our_ssrc, "SSRC of sender");
    // Sender info: NTP timestamp (8 bytes at 8), RTP timestamp (16),
    // packets (20) and octets (24) sent so far.
    let ntp_seconds = word(8);
    assert!(
        ntp_seconds > 3_786_825_600,
        "NTP seconds after 2020: {ntp_seconds}"
    );
    let packets = word(20);
    assert!(packets >= 1, "packets sent {packets}");
    assert_eq!(word(24), packets * 160, "octets = 160 per PCMU packet");
    // Report block at 28: SSRC_1, fraction lost (8 bits) and cumulative
    // lost (24 bits), extended highest sequence number.
    assert_eq!(word(28), 0xBEEF, "the block is about the remote");
    assert_eq!(buf[32], 42, "fraction lost: 1 of 6 in 1/256");
    assert_eq!(&buf[33..36], &[0, 0, 1], "cumulative lost 1");
    assert_eq!(word(36), 6, "extended highest sequence number");
    assert_eq!(word(44), 0, "LSR: no SR from the remote yet");
    // Then an SDES packet (PT=202) with our CNAME.
    assert!(n > 52 + 8, "SDES after the SR: {n} bytes");
    assert_eq!((buf[52] & 0xC0, buf[53]), (0x80, 202), "SDES");
    assert_eq!(word(56), our_ssrc, "SDES chunk SSRC");
    assert_eq!(buf[60], 1, "CNAME item");

    // The remote answers with an RR about us, written by hand (RFC 3550
    // 6.4.2): 25% lost in the last interval, 7 in all, jitter 80.
    let mut out = Vec::new();
    out.extend_from_slice(&[0x81, 201, 0x00, 0x07]); // V=2 RC=1 | RR | 32 bytes
    out.extend_from_slice(&0xBEEFu32.to_be_bytes()); // SSRC of packet sender
    out.extend_from_slice(&our_ssrc.to_be_bytes()); // SSRC_1: us
    out.extend_from_slice(&[64, 0x00, 0x00, 0x07]); // fraction 64/256 | lost 7
    out.extend_from_slice(&1234u32.to_be_bytes()); // extended highest seq
    out.extend_from_slice(&80u32.to_be_bytes()); // jitter (8 kHz units)
    out.extend_from_slice(&[0; 8]); // LSR, DLSR
    rtcp_sock
        .send_to(&out, SocketAddr::new(LOCALHOST, local.port() + 1))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    eng.close(id);
    let stats = closed_stats(&rx, id);
    assert_eq!(stats.remote_fraction_lost, Some(0.25));
    assert_eq!(stats.remote_cumulative_lost, Some(7));
    assert_eq!(stats.remote_jitter_ms, Some(10.0));
    assert_eq!(stats.packets_received, 5);
    assert_eq!(stats.packets_lost, 1);
    assert!(stats.rtcp_sent >= 2, "periodic + final report: {stats:?}");
    assert_eq!(stats.rtcp_received, 1);
}

#[test]
fn ports_are_freed_on_close() {
    let (eng, rx) = engine((21_800, 21_803), 10_000, 5_000);
    let (a, pa) = eng.allocate().unwrap();
    let (b, pb) = eng.allocate().unwrap();
    assert_ne!(pa, pb);
    assert!(eng.allocate().is_err(), "range holds two pairs");
    eng.close(a);
    closed_stats(&rx, a);
    let (_, pc) = eng.allocate().unwrap();
    assert_eq!(pc, pa);
    eng.close(b);
    closed_stats(&rx, b);
}

#[test]
fn inband_detection_stops_once_rfc4733_is_seen() {
    let (eng, rx) = engine((21_900, 21_999), 10_000, 5_000);
    let remote = peer();
    let (id, local) = eng.allocate().unwrap();
    eng.start_stream(id, params(remote.local_addr().unwrap()));
    // The phone sends the key both as an event and as audio.
    for (i, end) in [false, true, true, true].into_iter().enumerate() {
        let pkt = rtp_packet(101, i as u16, 0, 9, &event_payload(1, end, 800));
        remote.send_to(&pkt, local).unwrap();
    }
    let mut pcm = dtmf_tone(Digit::D1, 100);
    pcm.extend(vec![0i16; 800]);
    let mut payload = [0u8; 160];
    for (i, frame) in pcm.chunks_exact(160).enumerate() {
        g711::encode(Codec::Pcmu, frame, &mut payload);
        let pkt = rtp_packet(0, 4 + i as u16, 160 * i as u32, 9, &payload);
        remote.send_to(&pkt, local).unwrap();
    }
    let mut sources = Vec::new();
    let end = Instant::now() + Duration::from_millis(400);
    while let Ok(e) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        if let MediaEvent::Digit { digit, source, .. } = e {
            assert_eq!(digit, Digit::D1);
            sources.push(source);
        }
    }
    assert_eq!(sources, vec![DtmfSource::Rfc4733]);
    eng.close(id);
}

#[test]
fn an_idle_worker_sleeps_and_a_new_stream_wakes_it_on_time() {
    let (eng, rx) = engine((21_400, 21_499), 10_000, 5_000);
    let ticks = |e: &MediaEngine| e.worker_stats().iter().map(|w| w.ticks).sum::<u64>();
    std::thread::sleep(Duration::from_millis(100));
    let before = ticks(&eng);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ticks(&eng), before, "no stream: the workers do not tick");
    for round in 0..2 {
        let remote = peer();
        let (id, _) = eng.allocate().unwrap();
        eng.start_stream(id, params(remote.local_addr().unwrap()));
        let mut packets = Vec::new();
        while packets.len() < 20 {
            packets.push(recv_rtp(&remote).expect("RTP flows after the wake-up"));
        }
        for w in packets.windows(2) {
            assert_eq!(
                w[1].0.sequence,
                w[0].0.sequence.wrapping_add(1),
                "round {round}"
            );
        }
        // Paced, not a burst of missed ticks caught up at once.
        let mean = (packets[19].2 - packets[4].2).as_secs_f64() * 1000.0 / 15.0;
        assert!(
            (mean - 20.0).abs() < 3.0,
            "round {round}: mean spacing {mean} ms"
        );
        assert!(ticks(&eng) > before);
        eng.close(id);
        let stats = closed_stats(&rx, id);
        assert!(stats.packets_sent >= 20, "{stats:?}");
        std::thread::sleep(Duration::from_millis(50));
        let idle = ticks(&eng);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(ticks(&eng), idle, "round {round}: asleep again");
    }
    eng.shutdown();
}

/// Streams bound to `[::]` (dual-stack) talk to IPv6 and IPv4 callers
/// alike; an engine bound to an IPv4 address says IPv6 is out of reach.
#[test]
fn dual_stack_streams_serve_both_families() {
    let (tx, rx) = mpsc::channel();
    let cfg = MediaConfig {
        workers: 1,
        bind_ip: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        rtp_ports: (23_800, 23_899),
        rtp_timeout: Duration::from_secs(10),
        rtcp_interval: Duration::from_secs(5),
        realtime: false,
    };
    let eng = MediaEngine::start(cfg, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    assert_eq!(eng.reach(v6), ura_media::Reach::Route { source: v6 });
    assert_eq!(
        eng.reach(LOCALHOST),
        ura_media::Reach::Route { source: LOCALHOST }
    );
    for caller_ip in [v6, LOCALHOST] {
        let caller = UdpSocket::bind((caller_ip, 0)).unwrap();
        caller
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let (id, local) = eng.allocate().unwrap();
        eng.start_stream(id, params(caller.local_addr().unwrap()));
        let (h, _, _) = recv_rtp(&caller).expect("RTP to the caller");
        assert_eq!(h.payload_type, 0);
        // The caller's RTP reaches the stream on the same port.
        let to = SocketAddr::new(caller_ip, local.port());
        for seq in 0..3u16 {
            caller
                .send_to(
                    &rtp_packet(0, seq, 160 * u32::from(seq), 9, &[0xFF; 160]),
                    to,
                )
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        eng.close(id);
        let stats = closed_stats(&rx, id);
        assert_eq!(stats.packets_received, 3, "{caller_ip}: {stats:?}");
        assert_eq!(stats.send_failed, 0);
        assert_eq!(stats.remote_rtp, Some(caller.local_addr().unwrap()));
    }

    let (v4_only, _) = engine((23_900, 23_999), 10_000, 5_000);
    assert!(
        matches!(v4_only.reach(v6), ura_media::Reach::Unreachable(why) if why.contains("IPv4 only"))
    );
}
