//! One media stream as owned by a worker: sending, receiving, DTMF, RTCP.

use crate::bridge::{self, RecMix, Recorder};
use crate::dtmf::inband::Detector;
use crate::dtmf::rfc4733::EventReceiver;
use crate::dtmf::DtmfSource;
use crate::engine::{
    MediaConfig, MediaEvent, PlayId, PlayMode, StreamId, StreamParams, StreamStats,
};
use crate::g711::{self, Codec};
use crate::prompt::{PromptFrames, FRAME_SAMPLES};
use crate::rtcp::{self, ReceiveStats, ReportBlock, SenderInfo};
use crate::rtp::{self, RtpHeader, RtpPacket, HEADER_LEN};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Comfort noise (RFC 3389): accepted silently, never latched or decoded.
const PT_COMFORT_NOISE: u8 = 13;
const CNAME: &str = "ura";
const RECV_BUF: usize = 2048;
/// A bridged leg that relayed nothing for this long sends silence ticks
/// again (keeps NAT bindings and the listener's jitter buffer alive) until
/// the other side talks again.
pub(crate) const BRIDGE_FILL_NS: u64 = 60_000_000;

/// Scratch buffers shared by all streams of a worker (no allocation per packet).
pub(crate) struct Buffers {
    send: [u8; HEADER_LEN + FRAME_SAMPLES],
    batch: crate::sys::RecvBatch,
    recv: Box<[u8; RECV_BUF]>,
    pcm: Box<[i16; RECV_BUF]>,
    relay: Box<[u8; RECV_BUF]>,
    rtcp: [u8; 256],
}

impl Buffers {
    pub(crate) fn new() -> Buffers {
        Buffers {
            send: [0; HEADER_LEN + FRAME_SAMPLES],
            batch: crate::sys::RecvBatch::new(),
            recv: Box::new([0; RECV_BUF]),
            pcm: Box::new([0; RECV_BUF]),
            relay: Box::new([0; RECV_BUF]),
            rtcp: [0; 256],
        }
    }
}

struct PlayItem {
    id: PlayId,
    prompt: PromptFrames,
    looped: bool,
    pos: usize,
    started: bool,
}

/// Sending state, created by `start_stream`.
struct Sending {
    params: StreamParams,
    start_tick: u64,
    start_ns: u64,
    ts_base: u32,
    seq: u16,
    marker_pending: bool,
    /// Added to tick timestamps so they never go back after relayed packets.
    ts_adjust: u32,
    /// Timestamp of the last packet sent (tick or relay).
    last_ts: Option<u32>,
    /// While relaying: the incoming SSRC and the offset mapping its
    /// timestamps into ours. Cleared by every tick packet sent.
    relay_anchor: Option<(u32, u32)>,
    /// When the last packet was relayed out of this leg.
    last_relay_ns: u64,
}

impl Sending {
    /// Our RTP clock at `now` (8 kHz since the start, plus the adjustment).
    fn clock_ts(&self, now: u64) -> u32 {
        let elapsed = now.saturating_sub(self.start_ns) / 125_000;
        self.ts_base
            .wrapping_add(self.ts_adjust)
            .wrapping_add(elapsed as u32)
    }

    /// `ts` moved forward, if needed, to follow the last packet sent.
    fn after_last(&self, ts: u32) -> u32 {
        match self.last_ts {
            Some(last) => {
                let min = last.wrapping_add(FRAME_SAMPLES as u32);
                if (ts.wrapping_sub(min) as i32) < 0 {
                    min
                } else {
                    ts
                }
            }
            None => ts,
        }
    }
}

/// The other leg of a bridge, on the same worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BridgeLink {
    pub(crate) peer: StreamId,
    pub(crate) peer_slot: usize,
}

pub(crate) struct Stream {
    id: StreamId,
    rtp: mio::net::UdpSocket,
    rtcp: mio::net::UdpSocket,
    ssrc: u32,
    tx: Option<Sending>,
    current: Option<PlayItem>,
    queue: VecDeque<PlayItem>,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    /// The RTP latch is final: it was made on a packet from the SDP
    /// address's IP. A latch to another IP is provisional until then.
    latch_final: bool,
    /// The sockets are IPv6 (maybe dual-stack): IPv4 destinations are
    /// written IPv4-mapped.
    v6: bool,
    /// A failed send was logged (once per stream).
    send_error_logged: bool,
    /// Where a STUN binding request came from before the stream started
    /// (a phone's first packet can beat our ACK to the worker).
    early_stun: Option<SocketAddr>,
    /// RTP port of the stream (returned to the allocator on close).
    pub(crate) port: u16,
    bridge: Option<BridgeLink>,
    /// Where decoded audio goes while the bridge is recorded (mix, side).
    rec_tap: Option<(Arc<Mutex<RecMix>>, usize)>,
    /// The bridge recording, held by the leg it was started on.
    recorder: Option<Recorder>,
    remote_ssrc: Option<u32>,
    recv: ReceiveStats,
    events: EventReceiver,
    detector: Detector,
    saw_rfc4733: bool,
    /// What the caller says, while recording: decoded samples, and the limit.
    recording: Option<(Vec<i16>, usize)>,
    last_rx_ns: u64,
    timeout_sent: bool,
    next_rtcp_ns: u64,
    last_sr: Option<(u32, u64)>,
    remote_report: Option<ReportBlock>,
    /// Tick and offset from its deadline (ns) of the last packet sent.
    last_send: Option<(u64, u64)>,
    stats: StreamStats,
}

/// A source address as the streams compare it: IPv4-mapped IPv6 (from a
/// dual-stack socket) as plain IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// A destination as a socket of family `v6` takes it.
fn mapped(addr: SocketAddr, v6: bool) -> SocketAddr {
    match (v6, addr) {
        (true, SocketAddr::V4(a)) => SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port()),
        _ => addr,
    }
}

/// Counts a send the system refused; the first of a stream is logged.
fn note_send_error(
    id: StreamId,
    stats: &mut StreamStats,
    logged: &mut bool,
    what: &str,
    to: SocketAddr,
    e: &io::Error,
) {
    stats.send_failed += 1;
    if !std::mem::replace(logged, true) {
        tracing::warn!(stream = %id, %to, error = %e, "{what} send failed (logged once per stream; counted in send_failed)");
    }
}

/// A STUN (RFC 5389) Binding request: type 0x0001, the magic cookie.
fn is_stun_binding_request(data: &[u8]) -> bool {
    data.len() >= 20 && data[0..2] == [0x00, 0x01] && data[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// Arrival time in 8 kHz sample units (125 µs).
fn arrival_ts(now_ns: u64) -> u32 {
    (now_ns / 125_000) as u32
}

fn rtcp_delay(cfg: &MediaConfig) -> u64 {
    (cfg.rtcp_interval.as_nanos() as f64 * (0.5 + fastrand::f64())) as u64
}

impl Stream {
    pub(crate) fn new(id: StreamId, rtp: mio::net::UdpSocket, rtcp: mio::net::UdpSocket) -> Stream {
        let v6 = rtp.local_addr().is_ok_and(|a| a.is_ipv6());
        Stream {
            v6,
            send_error_logged: false,
            early_stun: None,
            id,
            rtp,
            rtcp,
            ssrc: fastrand::u32(..),
            tx: None,
            current: None,
            queue: VecDeque::new(),
            latched_rtp: None,
            latched_rtcp: None,
            latch_final: false,
            port: 0,
            bridge: None,
            rec_tap: None,
            recorder: None,
            remote_ssrc: None,
            recv: ReceiveStats::default(),
            events: EventReceiver::new(),
            detector: Detector::new(),
            saw_rfc4733: false,
            recording: None,
            last_rx_ns: 0,
            timeout_sent: false,
            next_rtcp_ns: u64::MAX,
            last_sr: None,
            remote_report: None,
            last_send: None,
            stats: StreamStats::default(),
        }
    }

    pub(crate) fn start(
        &mut self,
        params: StreamParams,
        tick: u64,
        tick_ns: u64,
        now: u64,
        cfg: &MediaConfig,
    ) {
        if let Some(tx) = &mut self.tx {
            // Already started: treat as an update.
            tx.params = params;
            return;
        }
        self.tx = Some(Sending {
            params,
            start_tick: tick,
            start_ns: tick_ns,
            ts_base: fastrand::u32(..),
            seq: fastrand::u16(..),
            marker_pending: true,
            ts_adjust: 0,
            last_ts: None,
            relay_anchor: None,
            last_relay_ns: 0,
        });
        self.last_rx_ns = now;
        self.next_rtcp_ns = now + rtcp_delay(cfg);
        if params.latch_only && self.latched_rtp.is_none() {
            // Provisional, as for a STUN request after the start.
            self.latched_rtp = self.early_stun.take();
            self.latch_final = false;
        }
    }

    pub(crate) fn update(&mut self, params: StreamParams, now: u64) {
        let Some(tx) = &mut self.tx else {
            return;
        };
        let old = tx.params;
        tx.params = params;
        if old.remote_rtp != params.remote_rtp {
            self.latched_rtp = None;
            self.latched_rtcp = None;
            self.latch_final = false;
        }
        if old.codec != params.codec {
            self.detector.reset();
        }
        if old.direction != params.direction {
            // Re-arm the RTP timeout from now (e.g. when coming off hold).
            self.last_rx_ns = now;
            self.timeout_sent = false;
            tx.marker_pending = true;
        }
    }

    pub(crate) fn play(&mut self, id: PlayId, prompt: PromptFrames, mode: PlayMode, looped: bool) {
        let item = PlayItem {
            id,
            prompt,
            looped,
            pos: 0,
            started: false,
        };
        if mode == PlayMode::Replace {
            self.stop_play();
        }
        self.queue.push_back(item);
    }

    pub(crate) fn stop_play(&mut self) {
        self.current = None;
        self.queue.clear();
    }

    /// Starts keeping the caller's audio, up to `max_samples` (8 kHz).
    pub(crate) fn start_recording(&mut self, max_samples: usize) {
        self.recording = Some((Vec::with_capacity(max_samples.min(8000 * 60)), max_samples));
    }

    /// Stops recording and reports what was kept.
    pub(crate) fn stop_recording(&mut self, sink: &dyn Fn(MediaEvent)) {
        if let Some((pcm, _)) = self.recording.take() {
            sink(MediaEvent::Recorded {
                stream: self.id,
                pcm,
            });
        }
    }

    /// Produces tick `k`'s frame; sends it when `send` and our direction allow.
    ///
    /// Returns the send-spacing error (how much this packet's send time
    /// relative to its tick deadline differs from the previous packet's).
    pub(crate) fn tick(
        &mut self,
        k: u64,
        send: bool,
        deadline_ns: u64,
        bufs: &mut Buffers,
        sink: &dyn Fn(MediaEvent),
    ) -> Option<u64> {
        let tx = self.tx.as_mut()?;
        if k < tx.start_tick {
            return None;
        }
        let codec = tx.params.codec;
        let mut spacing = None;
        let payload = &mut bufs.send[HEADER_LEN..];
        let mut finished = None;
        if self.bridge.is_some() {
            if let Some(r) = &mut self.recorder {
                r.tick();
            }
            // The other leg's packets are relayed as they come; only when
            // it has been quiet for a while do we fill with silence. The
            // play queue is paused meanwhile.
            let now = crate::sys::monotonic_ns();
            if now.saturating_sub(tx.last_relay_ns) < BRIDGE_FILL_NS {
                return None;
            }
            payload.fill(codec.silence_byte());
        } else {
            loop {
                if self.current.is_none() {
                    self.current = self.queue.pop_front();
                }
                let Some(item) = &mut self.current else {
                    payload.fill(codec.silence_byte());
                    break;
                };
                let frame = item.prompt.frame(codec, item.pos);
                if frame.len() != FRAME_SAMPLES {
                    // Empty prompt: finished without sending anything.
                    sink(MediaEvent::PlayFinished {
                        stream: self.id,
                        play: item.id,
                    });
                    self.current = None;
                    continue;
                }
                payload.copy_from_slice(frame);
                if !item.started {
                    item.started = true;
                    tx.marker_pending = true;
                }
                item.pos += 1;
                if item.pos == item.prompt.frame_count() {
                    if item.looped {
                        item.pos = 0;
                    } else {
                        finished = Some(item.id);
                        self.current = None;
                    }
                }
                break;
            }
        }
        if send && tx.params.direction.sends() {
            let mut timestamp = tx
                .ts_base
                .wrapping_add(tx.ts_adjust)
                .wrapping_add((k - tx.start_tick).wrapping_mul(FRAME_SAMPLES as u64) as u32);
            if tx.relay_anchor.take().is_some() {
                // Back from relaying: never step back behind what was relayed.
                let after = tx.after_last(timestamp);
                tx.ts_adjust = tx.ts_adjust.wrapping_add(after.wrapping_sub(timestamp));
                timestamp = after;
                tx.marker_pending = true;
            }
            let header = RtpHeader {
                marker: tx.marker_pending,
                payload_type: tx.params.payload_type,
                sequence: tx.seq,
                timestamp,
                ssrc: self.ssrc,
                ..RtpHeader::default()
            };
            let dest = match (self.latched_rtp, tx.params.latch_only) {
                (Some(a), _) => Some(a),
                (None, false) => Some(tx.params.remote_rtp),
                // Nowhere to send yet: wait for the caller's RTP.
                (None, true) => None,
            };
            if let Some(dest) = dest.filter(|_| header.write(&mut bufs.send).is_ok()) {
                let offset = crate::sys::monotonic_ns().saturating_sub(deadline_ns);
                match self.rtp.send_to(&bufs.send, mapped(dest, self.v6)) {
                    Ok(_) => {
                        self.stats.packets_sent += 1;
                        self.stats.octets_sent += FRAME_SAMPLES as u64;
                        if let Some((prev_k, prev_offset)) = self.last_send {
                            if prev_k + 1 == k {
                                spacing = Some(offset.abs_diff(prev_offset));
                            }
                        }
                        self.last_send = Some((k, offset));
                    }
                    Err(e) => note_send_error(
                        self.id,
                        &mut self.stats,
                        &mut self.send_error_logged,
                        "RTP",
                        dest,
                        &e,
                    ),
                }
                // A failed send still consumes its sequence number: the
                // receiver should see it as lost, not as never sent.
                tx.seq = tx.seq.wrapping_add(1);
                tx.marker_pending = false;
                tx.last_ts = Some(timestamp);
            }
        }
        if let Some(play) = finished {
            sink(MediaEvent::PlayFinished {
                stream: self.id,
                play,
            });
        }
        spacing
    }

    /// RTP timeout and RTCP reports, checked once per tick.
    pub(crate) fn housekeeping(
        &mut self,
        now: u64,
        cfg: &MediaConfig,
        bufs: &mut Buffers,
        sink: &dyn Fn(MediaEvent),
    ) {
        let Some(tx) = &self.tx else {
            return;
        };
        if tx.params.direction == crate::Direction::SendRecv
            && !self.timeout_sent
            && now.saturating_sub(self.last_rx_ns) >= cfg.rtp_timeout.as_nanos() as u64
        {
            self.timeout_sent = true;
            sink(MediaEvent::RtpTimeout { stream: self.id });
        }
        if now >= self.next_rtcp_ns {
            self.send_rtcp(now, bufs);
            self.next_rtcp_ns = now + rtcp_delay(cfg);
        }
    }

    fn send_rtcp(&mut self, now: u64, bufs: &mut Buffers) {
        let Some(tx) = &self.tx else {
            return;
        };
        let block = match (self.recv.has_data(), self.remote_ssrc) {
            (true, Some(remote)) => {
                let (lsr, dlsr) = match self.last_sr {
                    Some((lsr, at)) => (
                        lsr,
                        ((now.saturating_sub(at) as u128 * 65_536) / 1_000_000_000) as u32,
                    ),
                    None => (0, 0),
                };
                Some(self.recv.report_block(remote, lsr, dlsr))
            }
            _ => None,
        };
        let written = if tx.params.direction.sends() && self.stats.packets_sent > 0 {
            let info = SenderInfo {
                ntp: rtcp::ntp_now(),
                rtp_timestamp: tx.clock_ts(now),
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.octets_sent as u32,
            };
            rtcp::write_sr(&mut bufs.rtcp, self.ssrc, &info, block.as_ref(), CNAME)
        } else {
            rtcp::write_rr(&mut bufs.rtcp, self.ssrc, block.as_ref(), CNAME)
        };
        let Ok(n) = written else {
            return;
        };
        let sdp_ok = !tx.params.latch_only;
        let rtp = self.latched_rtp.or(sdp_ok.then_some(tx.params.remote_rtp));
        let dest = self
            .latched_rtcp
            .or(tx.params.remote_rtcp.filter(|_| sdp_ok))
            .or_else(|| rtp.map(|rtp| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))));
        let Some(dest) = dest else {
            return;
        };
        match self.rtcp.send_to(&bufs.rtcp[..n], mapped(dest, self.v6)) {
            Ok(_) => self.stats.rtcp_sent += 1,
            Err(e) => note_send_error(
                self.id,
                &mut self.stats,
                &mut self.send_error_logged,
                "RTCP",
                dest,
                &e,
            ),
        }
    }

    /// Reads the RTP socket until it would block; returns the datagrams read.
    ///
    /// `peer` is the other leg when this stream is bridged: accepted audio
    /// and telephone-events are relayed out of it at once. Datagrams come
    /// in batches ([`crate::sys::recv_batch`]); a short batch ends the
    /// drain without a last call that would only say `WouldBlock`.
    pub(crate) fn drain_rtp(
        &mut self,
        bufs: &mut Buffers,
        sink: &dyn Fn(MediaEvent),
        mut peer: Option<&mut Stream>,
    ) -> usize {
        use std::os::fd::AsRawFd;
        let mut errors = 0;
        let mut total = 0;
        loop {
            let n = match crate::sys::recv_batch(self.rtp.as_raw_fd(), &mut bufs.batch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    errors += 1;
                    if errors > 16 {
                        tracing::warn!(stream = %self.id, "RTP receive failing: {e}");
                        return total;
                    }
                    continue;
                }
            };
            total += n;
            let now = crate::sys::monotonic_ns();
            for i in 0..n {
                let (data, src) = bufs.batch.get(i);
                let Some(src) = src else {
                    self.stats.packets_ignored += 1;
                    continue;
                };
                let (pcm, relay) = (&mut bufs.pcm[..], &mut bufs.relay[..]);
                self.on_rtp(
                    data,
                    canonical(src),
                    now,
                    pcm,
                    sink,
                    peer.as_deref_mut(),
                    relay,
                );
            }
            if n < crate::sys::RECV_BATCH {
                return total;
            }
        }
    }

    /// Reads the RTCP socket until it would block.
    pub(crate) fn drain_rtcp(&mut self, bufs: &mut Buffers) {
        let mut errors = 0;
        loop {
            match self.rtcp.recv_from(&mut bufs.recv[..]) {
                Ok((n, src)) => {
                    let src = canonical(src);
                    let now = crate::sys::monotonic_ns();
                    self.on_rtcp(&bufs.recv[..n], src, now, true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    errors += 1;
                    if errors > 16 {
                        return;
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_rtp(
        &mut self,
        data: &[u8],
        src: SocketAddr,
        now: u64,
        pcm: &mut [i16],
        sink: &dyn Fn(MediaEvent),
        peer: Option<&mut Stream>,
        relay: &mut [u8],
    ) {
        let Some(tx) = &self.tx else {
            if is_stun_binding_request(data) {
                self.early_stun = Some(src);
            }
            self.stats.packets_ignored += 1;
            return;
        };
        let params = tx.params;
        if params.latch_only && self.latched_rtp.is_none() && is_stun_binding_request(data) {
            // The SDP address cannot be reached and no RTP came yet: a
            // phone opening its way through a NAT (linphone does, before
            // its first RTP) tells where it listens. Provisional, like a
            // latch on RTP from another IP.
            self.latched_rtp = Some(src);
            self.latch_final = false;
            self.stats.packets_ignored += 1;
            return;
        }
        if data.len() >= 2 && (200..=204).contains(&data[1]) {
            // RTCP multiplexed on the RTP port (RFC 5761).
            if self.latched_rtp.is_none_or(|a| a == src) {
                self.on_rtcp(data, src, now, false);
            }
            return;
        }
        let Ok(pkt) = rtp::parse(data) else {
            self.stats.packets_ignored += 1;
            return;
        };
        let pt = pkt.header.payload_type;
        if pt == PT_COMFORT_NOISE {
            return;
        }
        let is_event = params.telephone_event_pt == Some(pt);
        if pt != params.payload_type && !is_event {
            self.stats.packets_ignored += 1;
            return;
        }
        // Latching (symmetric RTP) with protection against media from
        // strangers ("RTP bleed"): a packet from the SDP address's IP
        // latches for good; a packet from another IP (a NAT in front of the
        // caller) latches only provisionally, until the first packet from
        // the SDP IP takes over. Once latched, every other source is ignored.
        let from_sdp_ip = src.ip() == params.remote_rtp.ip().to_canonical();
        match self.latched_rtp {
            Some(a) if a == src => {}
            Some(_) if self.latch_final || !from_sdp_ip => {
                self.stats.packets_ignored += 1;
                return;
            }
            latched => {
                if latched.is_some() {
                    self.latched_rtcp = None;
                }
                self.latched_rtp = Some(src);
                self.latch_final = from_sdp_ip;
            }
        }
        if self.remote_ssrc != Some(pkt.header.ssrc) {
            // A new source (e.g. after a transfer): start fresh statistics.
            self.remote_ssrc = Some(pkt.header.ssrc);
            self.recv = ReceiveStats::default();
        }
        if !self.recv.on_sequence(pkt.header.sequence) {
            self.stats.packets_ignored += 1;
            return;
        }
        self.stats.packets_received += 1;
        self.last_rx_ns = now;
        self.timeout_sent = false;
        // What we receive may go to the other leg only if our direction
        // lets us receive (the other leg checks that it may send).
        let receives = matches!(
            params.direction,
            crate::Direction::SendRecv | crate::Direction::RecvOnly
        );
        let peer = if self.bridge.is_some() { peer } else { None };
        if is_event {
            if let Some(p) = peer {
                p.relay_out(&pkt, params.codec, true, receives, now, relay);
            }
            self.saw_rfc4733 = true;
            if let Some(digit) =
                self.events
                    .feed(pkt.header.timestamp, pkt.header.sequence, pkt.payload)
            {
                sink(MediaEvent::Digit {
                    stream: self.id,
                    digit,
                    source: DtmfSource::Rfc4733,
                });
            }
            return;
        }
        if let Some(p) = peer {
            p.relay_out(&pkt, params.codec, false, receives, now, relay);
        }
        self.recv.on_timing(pkt.header.timestamp, arrival_ts(now));
        // In-band digits are looked for only where someone acts on them:
        // not once the phone sends RFC 4733, and not while bridged (the
        // engine ignores a bridged caller's digits; the audio carries the
        // tones to the other side anyway).
        let detect = !self.saw_rfc4733 && self.bridge.is_none();
        if !detect && self.recording.is_none() && self.rec_tap.is_none() {
            return;
        }
        let n = pkt.payload.len().min(pcm.len());
        g711::decode(params.codec, &pkt.payload[..n], &mut pcm[..n]);
        if let Some((mix, side)) = &self.rec_tap {
            mix.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(*side, &pcm[..n]);
        }
        if let Some((kept, max)) = self.recording.as_mut() {
            let room = max.saturating_sub(kept.len());
            kept.extend_from_slice(&pcm[..n.min(room)]);
            if kept.len() >= *max {
                self.stop_recording(sink);
            }
        }
        if !detect {
            return;
        }
        let id = self.id;
        self.detector.feed_with(&pcm[..n], |digit| {
            sink(MediaEvent::Digit {
                stream: id,
                digit,
                source: DtmfSource::Inband,
            })
        });
    }

    /// Sends a packet received on the other leg out of this one: our SSRC,
    /// our sequence numbers, its timestamp mapped into our timeline, the
    /// payload transcoded to our codec (or the event's payload type
    /// rewritten to ours). Never allocates.
    fn relay_out(
        &mut self,
        pkt: &RtpPacket<'_>,
        from: Codec,
        is_event: bool,
        allowed: bool,
        now: u64,
        buf: &mut [u8],
    ) {
        let Some(tx) = self.tx.as_mut() else {
            self.stats.relay_dropped += 1;
            return;
        };
        let pt = match (is_event, tx.params.telephone_event_pt) {
            (false, _) => Some(tx.params.payload_type),
            (true, pt) => pt,
        };
        let len = pkt.payload.len();
        let Some(pt) = pt.filter(|_| allowed && tx.params.direction.sends()) else {
            self.stats.relay_dropped += 1;
            return;
        };
        if HEADER_LEN + len > buf.len() {
            self.stats.relay_dropped += 1;
            return;
        }
        let mut marker = tx.marker_pending || pkt.header.marker;
        let offset = match tx.relay_anchor {
            Some((ssrc, offset)) if ssrc == pkt.header.ssrc => offset,
            _ => {
                // A switch (bridge, new source, or after our own ticks):
                // the source's timestamp maps to our clock now.
                let ours = tx.after_last(tx.clock_ts(now));
                let offset = ours.wrapping_sub(pkt.header.timestamp);
                tx.relay_anchor = Some((pkt.header.ssrc, offset));
                marker = true;
                offset
            }
        };
        let timestamp = pkt.header.timestamp.wrapping_add(offset);
        let header = RtpHeader {
            marker,
            payload_type: pt,
            sequence: tx.seq,
            timestamp,
            ssrc: self.ssrc,
            ..RtpHeader::default()
        };
        if header.write(buf).is_err() {
            self.stats.relay_dropped += 1;
            return;
        }
        let body = &mut buf[HEADER_LEN..HEADER_LEN + len];
        if is_event {
            body.copy_from_slice(pkt.payload);
        } else {
            bridge::transcode(from, tx.params.codec, pkt.payload, body);
        }
        let dest = match (self.latched_rtp, tx.params.latch_only) {
            (Some(a), _) => a,
            (None, false) => tx.params.remote_rtp,
            (None, true) => {
                self.stats.relay_dropped += 1;
                return;
            }
        };
        match self
            .rtp
            .send_to(&buf[..HEADER_LEN + len], mapped(dest, self.v6))
        {
            Ok(_) => {
                self.stats.packets_sent += 1;
                self.stats.octets_sent += len as u64;
                self.stats.packets_relayed += 1;
            }
            Err(e) => {
                self.stats.relay_dropped += 1;
                note_send_error(
                    self.id,
                    &mut self.stats,
                    &mut self.send_error_logged,
                    "relayed RTP",
                    dest,
                    &e,
                );
            }
        }
        tx.seq = tx.seq.wrapping_add(1);
        tx.marker_pending = false;
        tx.last_ts = Some(timestamp);
        tx.last_relay_ns = now;
    }

    /// The slab slot of the other leg, while bridged.
    pub(crate) fn bridge_slot(&self) -> Option<usize> {
        self.bridge.map(|b| b.peer_slot)
    }

    /// The other leg, while bridged.
    pub(crate) fn bridged_to(&self) -> Option<StreamId> {
        self.bridge.map(|b| b.peer)
    }

    /// Starts relaying to/from `link` (its own ticks stop but for fill-in).
    pub(crate) fn set_bridge(&mut self, link: BridgeLink) {
        self.bridge = Some(link);
        if let Some(tx) = &mut self.tx {
            tx.marker_pending = true;
            tx.relay_anchor = None;
            tx.last_relay_ns = 0;
        }
    }

    /// Ends the bridge on this side (ticks resume; a recording held here
    /// is handed to the writer to be finalised).
    pub(crate) fn clear_bridge(&mut self) -> Option<BridgeLink> {
        self.rec_tap = None;
        if let Some(r) = self.recorder.take() {
            r.finish();
        }
        if let Some(tx) = &mut self.tx {
            tx.marker_pending = true;
        }
        if self.bridge.is_some() {
            // Looking for digits again: nothing half-heard from before.
            self.detector = Detector::new();
        }
        self.bridge.take()
    }

    /// Sends decoded received audio to side `side` of a bridge recording.
    pub(crate) fn set_rec_tap(&mut self, mix: Arc<Mutex<RecMix>>, side: usize) {
        self.rec_tap = Some((mix, side));
    }

    /// Ends a bridge recording held by this leg, if any.
    pub(crate) fn end_recording(&mut self) {
        if let Some(r) = self.recorder.take() {
            r.finish();
        }
    }

    /// Holds the bridge recording (frames are cut on this leg's ticks).
    pub(crate) fn set_recorder(&mut self, r: Recorder) {
        if let Some(old) = self.recorder.replace(r) {
            old.finish();
        }
    }

    fn on_rtcp(&mut self, data: &[u8], src: SocketAddr, now: u64, own_socket: bool) {
        let Ok(summary) = rtcp::parse_compound(data, self.ssrc) else {
            self.stats.packets_ignored += 1;
            return;
        };
        if own_socket {
            match self.latched_rtcp {
                Some(a) if a != src => {
                    self.stats.packets_ignored += 1;
                    return;
                }
                Some(_) => {}
                None => self.latched_rtcp = Some(src),
            }
        }
        self.stats.rtcp_received += 1;
        if let Some((_, ntp)) = summary.sender_report {
            self.last_sr = Some((rtcp::ntp_middle(ntp), now));
        }
        if let Some(block) = summary.about_us {
            self.remote_report = Some(block);
            if block.lsr != 0 {
                let now_mid = rtcp::ntp_middle(rtcp::ntp_now());
                let rtt = now_mid.wrapping_sub(block.lsr).wrapping_sub(block.dlsr);
                if rtt < 0x8000_0000 {
                    self.stats.rtt_ms = Some(rtt as f64 * 1000.0 / 65_536.0);
                }
            }
        }
    }

    /// Sends a last report and returns the final statistics.
    pub(crate) fn finish(&mut self, now: u64, bufs: &mut Buffers) -> StreamStats {
        if let Some(tx) = &self.tx {
            self.stats.duration = Duration::from_nanos(now.saturating_sub(tx.start_ns));
            self.stats.remote_rtp = self
                .latched_rtp
                .or((!tx.params.latch_only).then_some(tx.params.remote_rtp));
            self.send_rtcp(now, bufs);
        }
        let mut stats = self.stats.clone();
        stats.packets_lost = self.recv.lost().max(0) as u64;
        stats.jitter_ms = self.recv.jitter() / 8.0;
        if let Some(b) = self.remote_report {
            stats.remote_fraction_lost = Some(b.fraction_lost as f64 / 256.0);
            stats.remote_cumulative_lost = Some(b.cumulative_lost as i64);
            stats.remote_jitter_ms = Some(b.jitter as f64 / 8.0);
        }
        stats
    }

    pub(crate) fn deregister(&mut self, registry: &mio::Registry) {
        let _ = registry.deregister(&mut self.rtp);
        let _ = registry.deregister(&mut self.rtcp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Direction;
    use crate::g711::Codec;
    use std::cell::RefCell;
    use std::net::UdpSocket;

    fn socket() -> mio::net::UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        mio::net::UdpSocket::from_std(s)
    }

    fn params(remote: SocketAddr, direction: Direction) -> StreamParams {
        StreamParams {
            remote_rtp: remote,
            remote_rtcp: None,
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event_pt: None,
            direction,
            latch_only: false,
        }
    }

    fn recv(peer: &UdpSocket) -> Option<(RtpHeader, Vec<u8>)> {
        let mut buf = [0u8; 512];
        let n = peer.recv(&mut buf).ok()?;
        let p = rtp::parse(&buf[..n]).ok()?;
        Some((p.header, p.payload.to_vec()))
    }

    #[test]
    fn timestamps_follow_the_tick_index_and_skipped_ticks_advance_play() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let remote = peer.local_addr().unwrap();
        let mut s = Stream::new(StreamId(1), socket(), socket());
        s.start(
            params(remote, Direction::SendRecv),
            100,
            0,
            0,
            &MediaConfig::default(),
        );
        let pcm: Vec<i16> = (0..4 * 160).map(|i| (i / 160 * 3000) as i16).collect();
        let prompt = PromptFrames::from_pcm(&pcm);
        s.play(PlayId(7), prompt.clone(), PlayMode::Replace, false);
        let events = RefCell::new(Vec::new());
        let sink = |e: MediaEvent| events.borrow_mut().push(e);
        let mut bufs = Buffers::new();

        assert_eq!(
            s.tick(99, true, 0, &mut bufs, &sink),
            None,
            "before the start tick"
        );
        s.tick(100, true, 0, &mut bufs, &sink);
        let (a, pa) = recv(&peer).unwrap();
        assert!(a.marker);
        assert_eq!(pa, prompt.frame(Codec::Pcma, 0));
        s.tick(101, false, 0, &mut bufs, &sink); // skipped: far behind
        s.tick(102, true, 0, &mut bufs, &sink);
        let (b, pb) = recv(&peer).unwrap();
        assert_eq!(b.sequence, a.sequence.wrapping_add(1));
        assert_eq!(b.timestamp, a.timestamp.wrapping_add(320));
        assert!(!b.marker);
        assert_eq!(
            pb,
            prompt.frame(Codec::Pcma, 2),
            "the skipped frame was consumed"
        );
        assert!(events.borrow().is_empty());
        s.tick(103, true, 0, &mut bufs, &sink);
        assert_eq!(recv(&peer).unwrap().1, prompt.frame(Codec::Pcma, 3));
        assert!(matches!(
            events.borrow()[..],
            [MediaEvent::PlayFinished {
                play: PlayId(7),
                ..
            }]
        ));
        s.tick(104, true, 0, &mut bufs, &sink);
        assert!(
            recv(&peer).unwrap().1.iter().all(|&b| b == 0xD5),
            "A-law silence"
        );

        // On hold nothing is sent, but the clock keeps running.
        s.update(params(remote, Direction::Inactive), 0);
        s.tick(105, true, 0, &mut bufs, &sink);
        s.update(params(remote, Direction::SendRecv), 0);
        s.tick(106, true, 0, &mut bufs, &sink);
        let (c, _) = recv(&peer).unwrap();
        assert_eq!(c.timestamp, a.timestamp.wrapping_add(6 * 160));
        assert_eq!(c.sequence, a.sequence.wrapping_add(4));
        assert!(c.marker, "talkspurt restarts after hold");
        assert_eq!(s.stats.packets_sent, 5);
    }

    /// A packet from `peer` to the stream's RTP socket, drained.
    fn deliver(s: &mut Stream, peer: &UdpSocket, data: &[u8], bufs: &mut Buffers) {
        peer.send_to(data, s.rtp.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.drain_rtp(bufs, &|_| {}, None);
    }

    fn rtp_packet(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 8];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 160, 1, 2, 3, 4]);
        p.extend_from_slice(&[0xD5; 160]);
        p
    }

    #[test]
    fn latch_only_sends_nothing_until_the_callers_rtp_latches() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // The SDP said an IPv6 address this IPv4 socket cannot reach.
        let sdp: SocketAddr = "[2001:db8::1]:7078".parse().unwrap();
        let mut p = params(sdp, Direction::SendRecv);
        p.latch_only = true;
        let mut s = Stream::new(StreamId(1), socket(), socket());
        s.start(p, 0, 0, 0, &MediaConfig::default());
        let mut bufs = Buffers::new();
        s.tick(0, true, 0, &mut bufs, &|_| {});
        s.tick(1, true, 0, &mut bufs, &|_| {});
        assert_eq!((s.stats.packets_sent, s.stats.send_failed), (0, 0));
        // The caller's first RTP, from elsewhere: latched, and answered.
        deliver(&mut s, &peer, &rtp_packet(1), &mut bufs);
        assert_eq!(s.stats.packets_received, 1);
        s.tick(2, true, 0, &mut bufs, &|_| {});
        let (h, _) = recv(&peer).expect("RTP to where the caller's came from");
        assert!(h.marker, "the first packet starts a talkspurt");
        assert_eq!(s.stats.packets_sent, 1);
        // A stranger is never latched once the caller is.
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        deliver(&mut s, &stranger, &rtp_packet(2), &mut bufs);
        assert_eq!(s.latched_rtp, Some(peer.local_addr().unwrap()));
        assert_eq!(
            s.finish(0, &mut bufs).remote_rtp,
            Some(peer.local_addr().unwrap())
        );
    }

    #[test]
    fn latch_only_takes_a_stun_binding_request_before_any_rtp() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let sdp: SocketAddr = "[2001:db8::1]:7078".parse().unwrap();
        let mut p = params(sdp, Direction::SendRecv);
        p.latch_only = true;
        let mut s = Stream::new(StreamId(1), socket(), socket());
        s.start(p, 0, 0, 0, &MediaConfig::default());
        let mut bufs = Buffers::new();
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        deliver(&mut s, &peer, &stun, &mut bufs);
        s.tick(0, true, 0, &mut bufs, &|_| {});
        assert!(recv(&peer).is_some(), "RTP to the STUN sender");
        // A request that comes before the stream starts counts too.
        let mut s = Stream::new(StreamId(3), socket(), socket());
        deliver(&mut s, &peer, &stun, &mut bufs);
        s.start(p, 0, 0, 0, &MediaConfig::default());
        s.tick(0, true, 0, &mut bufs, &|_| {});
        assert!(recv(&peer).is_some(), "RTP to the early STUN sender");
        // Without latch_only, STUN latches nothing (the SDP address is used).
        let mut s = Stream::new(StreamId(2), socket(), socket());
        s.start(
            params(peer.local_addr().unwrap(), Direction::SendRecv),
            0,
            0,
            0,
            &MediaConfig::default(),
        );
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        deliver(&mut s, &other, &stun, &mut bufs);
        assert_eq!(s.latched_rtp, None);
    }

    #[test]
    fn failed_sends_are_counted() {
        // An IPv4 socket told to send to IPv6, without latch_only.
        let sdp: SocketAddr = "[::1]:7078".parse().unwrap();
        let mut s = Stream::new(StreamId(1), socket(), socket());
        s.start(
            params(sdp, Direction::SendRecv),
            0,
            0,
            0,
            &MediaConfig::default(),
        );
        let mut bufs = Buffers::new();
        for k in 0..3 {
            s.tick(k, true, 0, &mut bufs, &|_| {});
        }
        let stats = s.finish(0, &mut bufs);
        assert_eq!(stats.packets_sent, 0);
        assert_eq!(
            stats.send_failed, 4,
            "three RTP packets and the last RTCP report"
        );
    }

    #[test]
    fn bridged_receive_path_survives_any_datagram() {
        let (pa, pb) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let cfg = MediaConfig::default();
        let mut a = Stream::new(StreamId(1), socket(), socket());
        let mut b = Stream::new(StreamId(2), socket(), socket());
        let mut pa_params = params(pa.local_addr().unwrap(), Direction::SendRecv);
        pa_params.telephone_event_pt = Some(101);
        pa_params.codec = Codec::Pcmu;
        pa_params.payload_type = 0;
        a.start(pa_params, 0, 0, 0, &cfg);
        b.start(
            params(pb.local_addr().unwrap(), Direction::SendRecv),
            0,
            0,
            0,
            &cfg,
        );
        a.set_bridge(BridgeLink {
            peer: StreamId(2),
            peer_slot: 1,
        });
        b.set_bridge(BridgeLink {
            peer: StreamId(1),
            peer_slot: 0,
        });
        let src = pa.local_addr().unwrap();
        let mut bufs = Buffers::new();
        let mut data = [0u8; RECV_BUF];
        fastrand::seed(7);
        for i in 0..20_000 {
            let n = fastrand::usize(..RECV_BUF.min(if i % 2 == 0 { 40 } else { RECV_BUF }));
            data[..n].iter_mut().for_each(|b| *b = fastrand::u8(..));
            if n > 1 && i % 3 == 0 {
                data[0] = 0x80 | (data[0] & 0x3F); // version 2, often valid
                data[1] = [0u8, 101, 0x80][fastrand::usize(..3)];
            }
            let (pcm, relay) = (&mut bufs.pcm[..], &mut bufs.relay[..]);
            a.on_rtp(&data[..n], src, i as u64, pcm, &|_| {}, Some(&mut b), relay);
        }
        assert!(a.stats.packets_ignored > 0);
        assert!(b.stats.packets_relayed > 0, "valid packets were relayed");
    }

    #[test]
    fn spacing_error_is_measured_between_consecutive_ticks() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut s = Stream::new(StreamId(2), socket(), socket());
        let remote = peer.local_addr().unwrap();
        s.start(
            params(remote, Direction::SendRecv),
            0,
            0,
            0,
            &MediaConfig::default(),
        );
        let mut bufs = Buffers::new();
        let now = crate::sys::monotonic_ns();
        assert_eq!(s.tick(0, true, now, &mut bufs, &|_| {}), None);
        // Tick 1's deadline is pretended 5 ms earlier: a ≥ 5 ms error.
        let err = s
            .tick(1, true, now - 5_000_000, &mut bufs, &|_| {})
            .unwrap();
        assert!(err >= 5_000_000, "{err}");
    }
}
