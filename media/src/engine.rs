//! The media engine handle and the types the signalling side uses to drive it.

use crate::bridge::{Control, Writer};
use crate::dtmf::{Digit, DtmfSource};
use crate::g711::Codec;
use crate::ports::PortAllocator;
use crate::prompt::PromptFrames;
use crate::sys;
use crate::worker::{self, Command, WorkerHandle};
use crate::MediaError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Configuration of the media workers.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Number of worker threads (1-256); default: number of cores.
    pub workers: usize,
    /// Address the RTP/RTCP sockets bind to. `[::]` binds dual-stack
    /// sockets (IPv6 and IPv4) where the system allows, and falls back to
    /// `0.0.0.0` on a system without IPv6.
    pub bind_ip: IpAddr,
    /// Inclusive RTP port range; RTP uses even ports, RTCP the next odd one.
    pub rtp_ports: (u16, u16),
    /// Silence on the RTP socket after which [`MediaEvent::RtpTimeout`] fires.
    pub rtp_timeout: Duration,
    /// Mean RTCP report interval (each interval is randomised to 0.5-1.5×).
    pub rtcp_interval: Duration,
    /// Run the workers at real-time priority (SCHED_FIFO 10, else nice −10)
    /// when the process may: keeps pacing tight on a busy machine. Best
    /// effort; without the privilege nothing changes.
    pub realtime: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            rtp_ports: (20_000, 29_999),
            rtp_timeout: Duration::from_secs(60),
            rtcp_interval: Duration::from_secs(5),
            realtime: true,
        }
    }
}

/// Identifies one media stream (one RTP/RTCP port pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl StreamId {
    /// The worker that owns the stream (kept in the low 8 bits).
    pub(crate) fn worker(self) -> usize {
        (self.0 & 0xFF) as usize
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ms-{}", self.0)
    }
}

/// Identifies one play request; chosen by the caller of [`MediaEngine::play`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayId(pub u64);

impl fmt::Display for PlayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "play-{}", self.0)
    }
}

/// Our side's media direction (from the SDP we answered with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// We send and receive.
    #[default]
    SendRecv,
    /// We only send (we put the caller on hold).
    SendOnly,
    /// We only receive (the caller put us on hold).
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Whether RTP is sent in this direction.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether RTP is received (accepted for a bridge) in this direction.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The negotiated media of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Where the SDP says to send RTP (symmetric RTP may override it).
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP; `None` means RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// The audio codec.
    pub codec: Codec,
    /// The payload type negotiated for `codec` (normally its static type).
    pub payload_type: u8,
    /// The payload type of telephone-event (RFC 4733), if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// Our direction.
    pub direction: Direction,
    /// `remote_rtp` cannot be reached from this stream (another address
    /// family, no route; see [`MediaEngine::reach`]): send nothing until
    /// the caller's RTP (or, before any, a STUN binding request on the RTP
    /// port) latches where to send.
    pub latch_only: bool,
}

/// Whether a stream can send to an address, from [`MediaEngine::reach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The system has a route; it sends from `source`.
    Route {
        /// The local address packets to there leave from.
        source: IpAddr,
    },
    /// The streams cannot send there; why, in words for a log line.
    Unreachable(String),
}

/// How a new play request relates to what is already playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlayMode {
    /// Stop what plays, drop the queue (no `PlayFinished` for them) and play this now.
    Replace,
    /// Play after everything already queued.
    Append,
}

/// Something the media workers report to the engine.
#[derive(Debug, Clone)]
pub enum MediaEvent {
    /// A DTMF key was pressed.
    Digit {
        /// The stream it arrived on.
        stream: StreamId,
        /// The key.
        digit: Digit,
        /// How it was detected.
        source: DtmfSource,
    },
    /// The last frame of a non-looped play item has been sent.
    PlayFinished {
        /// The stream.
        stream: StreamId,
        /// The play request.
        play: PlayId,
    },
    /// No RTP arrived for the configured timeout while in SendRecv.
    RtpTimeout {
        /// The stream.
        stream: StreamId,
    },
    /// A recording ended (stopped, or its limit reached): the caller's
    /// audio, decoded to 8 kHz samples.
    Recorded {
        /// The stream.
        stream: StreamId,
        /// What was heard.
        pcm: Vec<i16>,
    },
    /// The stream was closed and its ports released.
    Closed {
        /// The stream.
        stream: StreamId,
        /// Final statistics.
        stats: StreamStats,
    },
}

/// A finished bridge recording (see [`MediaEngine::record_bridge`]).
///
/// Delivered to the recording's own callback rather than as a
/// [`MediaEvent`] variant: existing exhaustive `match`es on `MediaEvent`
/// keep compiling.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeRecorded {
    /// The leg the recording was started on (left channel).
    pub stream: StreamId,
    /// The WAV file.
    pub path: PathBuf,
    /// Audio written (0 when the file could not be written).
    pub seconds: f64,
    /// 20 ms frames lost because the writer could not keep up.
    pub dropped_frames: u64,
}

/// Statistics of one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP payload octets sent.
    pub octets_sent: u64,
    /// RTP packets accepted (right source and payload type).
    pub packets_received: u64,
    /// Packets lost according to the received sequence numbers.
    pub packets_lost: u64,
    /// Our interarrival jitter estimate of the received RTP, in ms.
    pub jitter_ms: f64,
    /// Packets dropped: malformed, unknown payload type or wrong source.
    pub packets_ignored: u64,
    /// Fraction lost reported by the peer's last RR/SR about us (0-1).
    pub remote_fraction_lost: Option<f64>,
    /// Cumulative loss reported by the peer.
    pub remote_cumulative_lost: Option<i64>,
    /// Jitter reported by the peer, in ms.
    pub remote_jitter_ms: Option<f64>,
    /// Round-trip time from the peer's LSR/DLSR, in ms.
    pub rtt_ms: Option<f64>,
    /// RTCP packets sent.
    pub rtcp_sent: u64,
    /// RTCP packets accepted.
    pub rtcp_received: u64,
    /// Where RTP was last sent (after latching).
    pub remote_rtp: Option<SocketAddr>,
    /// Sends (RTP and RTCP) the system refused: no route, another address
    /// family… (the first error is logged once per stream).
    pub send_failed: u64,
    /// Time from `start_stream` to close (zero if never started).
    pub duration: Duration,
    /// RTP packets relayed out of this stream from its bridged peer
    /// (included in `packets_sent`).
    pub packets_relayed: u64,
    /// Packets received on the bridged peer that were not relayed out of
    /// this stream: a direction forbade it, no telephone-event payload type
    /// was negotiated here for an event, or the send failed.
    pub relay_dropped: u64,
}

/// Load and pacing counters of one worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerStats {
    /// Streams owned.
    pub streams: usize,
    /// The worker polls its sockets every 0.5 ms (many packets a second)
    /// rather than waking for each packet.
    pub polled: bool,
    /// The worker used more than 90 % of a core over a second and runs at
    /// normal priority until it is under 70 % (call control keeps a share).
    pub over_budget: bool,
    /// Phase ticks processed (the worker ticks every 2 ms, serving one
    /// tenth of its streams each time, so 500 per second).
    pub ticks: u64,
    /// Phase ticks processed more than 2 ms after their deadline.
    pub late_ticks: u64,
    /// Worst lateness seen.
    pub max_lateness: Duration,
    /// Total time spent producing and sending tick packets (divide by
    /// `ticks` for the mean cost of one tick).
    pub tick_busy: Duration,
    /// 99th percentile of the send-spacing error: how much the send time of
    /// a stream's packet, relative to its tick deadline, moved since the
    /// previous packet (50 µs resolution; refreshed every second).
    pub spacing_error_p99: Duration,
}

/// Handle to the media workers. Cheap to clone; all clones drive the same workers.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaEngine")
            .field("workers", &self.inner.workers.len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    workers: Vec<WorkerHandle>,
    ports: Arc<PortAllocator>,
    bind_ip: IpAddr,
    next_id: AtomicU64,
    /// The recording writer thread, started by the first `record_bridge`.
    writer: Mutex<Option<Writer>>,
    next_rec: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in &self.workers {
            w.stop();
        }
    }
}

/// The callback receiving [`MediaEvent`]s (called on worker threads; keep it quick).
pub(crate) type Sink = Arc<dyn Fn(MediaEvent) + Send + Sync>;

impl MediaEngine {
    /// Starts the worker threads. `sink` receives every event, on the
    /// worker thread that produced it, so it should only hand the event
    /// over (e.g. push it into a channel).
    ///
    /// Also raises the RLIMIT_NOFILE soft limit to the hard limit. With
    /// [`MediaConfig::realtime`], the workers try to run as SCHED_FIFO
    /// (priority 10, falling back to nice −10), which keeps the send pacing
    /// tight on a busy machine.
    pub fn start(
        cfg: MediaConfig,
        sink: impl Fn(MediaEvent) + Send + Sync + 'static,
    ) -> Result<MediaEngine, MediaError> {
        if cfg.workers == 0 || cfg.workers > 256 {
            return Err(MediaError::InvalidConfig("workers must be 1-256"));
        }
        if cfg.rtcp_interval.is_zero() || cfg.rtp_timeout.is_zero() {
            return Err(MediaError::InvalidConfig("intervals must be positive"));
        }
        let mut cfg = cfg;
        if cfg.bind_ip == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            && std::net::UdpSocket::bind((cfg.bind_ip, 0)).is_err()
        {
            tracing::warn!("no IPv6 on this system: RTP on 0.0.0.0 (IPv4) only");
            cfg.bind_ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        }
        let ports = Arc::new(PortAllocator::new(cfg.bind_ip, cfg.rtp_ports)?);
        if let Err(e) = sys::raise_nofile_limit() {
            tracing::warn!("cannot raise RLIMIT_NOFILE: {e}");
        }
        let sink: Sink = Arc::new(sink);
        let cfg = Arc::new(cfg);
        let epoch = sys::monotonic_ns() + worker::TICK_NS;
        let workers = (0..cfg.workers)
            .map(|i| {
                // Interleave the workers' phase ticks.
                let offset = worker::SUB_TICK_NS * i as u64 / cfg.workers as u64;
                worker::spawn(i, cfg.clone(), sink.clone(), epoch + offset, ports.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MediaEngine {
            inner: Arc::new(Inner {
                workers,
                ports,
                bind_ip: cfg.bind_ip,
                next_id: AtomicU64::new(1),
                writer: Mutex::new(None),
                next_rec: AtomicU64::new(1),
            }),
        })
    }

    /// Binds an even RTP port and RTCP on the next port, assigns the stream
    /// to the least-loaded worker and returns its id and local RTP address.
    /// Nothing is sent until [`MediaEngine::start_stream`].
    pub fn allocate(&self) -> Result<(StreamId, SocketAddr), MediaError> {
        let index = self
            .inner
            .workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.load())
            .ok_or(MediaError::ShutDown)?
            .0;
        self.allocate_on(index)
    }

    /// Like [`allocate`](Self::allocate), but on the worker of `peer`, so
    /// that the two streams can be [bridged](Self::bridge) (e.g. the
    /// agent's leg next to the caller's).
    pub fn allocate_with(&self, peer: StreamId) -> Result<(StreamId, SocketAddr), MediaError> {
        self.allocate_on(peer.worker())
    }

    fn allocate_on(&self, index: usize) -> Result<(StreamId, SocketAddr), MediaError> {
        let worker = self.inner.workers.get(index).ok_or(MediaError::ShutDown)?;
        let (rtp, rtcp) = self.inner.ports.bind_pair()?;
        let local = rtp.local_addr()?;
        let id = StreamId((self.inner.next_id.fetch_add(1, Ordering::Relaxed) << 8) | index as u64);
        worker.add_load();
        if !worker.send(Command::Add { id, rtp, rtcp }) {
            self.inner.ports.release(local.port());
            return Err(MediaError::ShutDown);
        }
        Ok((id, SocketAddr::new(self.inner.bind_ip, local.port())))
    }

    fn send(&self, id: StreamId, cmd: Command) {
        if let Some(w) = self.inner.workers.get(id.worker()) {
            w.send(cmd);
        }
    }

    /// Starts sending (silence until something plays) and receiving.
    ///
    /// Symmetric RTP: we send to where the caller's RTP comes from, with a
    /// guard against media from strangers (RTP injection). The first
    /// packet from the IP in `params.remote_rtp` latches its address and
    /// port for good. A packet from another IP (the caller behind a NAT)
    /// latches only provisionally: a later packet from the SDP IP takes
    /// over. Once latched, packets from any other address are never
    /// latched, played, decoded or relayed; they count in
    /// [`StreamStats::packets_ignored`]. [`update`](Self::update) with a
    /// new remote address starts over.
    pub fn start_stream(&self, id: StreamId, params: StreamParams) {
        self.send(id, Command::Start { id, params });
    }

    /// Applies renegotiated parameters (re-INVITE): direction, codec, remote
    /// address (a new address resets the symmetric-RTP latch).
    pub fn update(&self, id: StreamId, params: StreamParams) {
        self.send(id, Command::Update { id, params });
    }

    /// Plays a prompt. Looped items never finish; they play until replaced,
    /// stopped or closed.
    pub fn play(
        &self,
        id: StreamId,
        play: PlayId,
        prompt: PromptFrames,
        mode: PlayMode,
        looped: bool,
    ) {
        self.send(
            id,
            Command::Play {
                id,
                play,
                prompt,
                mode,
                looped,
            },
        );
    }

    /// Stops playing and clears the queue; stopped items get no `PlayFinished`.
    pub fn stop_play(&self, id: StreamId) {
        self.send(id, Command::StopPlay { id });
    }

    /// Keeps what the caller says (decoded) for at most `max`; the sink gets
    /// [`MediaEvent::Recorded`] on [`stop_record`](Self::stop_record) or at the limit.
    pub fn record(&self, id: StreamId, max: std::time::Duration) {
        let max_samples = (max.as_millis() as usize).saturating_mul(8);
        self.send(id, Command::Record { id, max_samples });
    }

    /// Ends a recording started with [`record`](Self::record).
    pub fn stop_record(&self, id: StreamId) {
        self.send(id, Command::StopRecord { id });
    }

    /// Closes the stream: sends a last RTCP report, frees the ports and
    /// emits [`MediaEvent::Closed`].
    pub fn close(&self, id: StreamId) {
        self.send(id, Command::Close { id });
    }

    /// Bridges two started streams of the same worker (see
    /// [`allocate_with`](Self::allocate_with)): from now on every RTP
    /// packet accepted on one is relayed at once out of the other, with
    /// the outgoing stream's SSRC, sequence numbers and timeline, G.711
    /// transcoded when the codecs differ, telephone-events with the
    /// outgoing payload type. The legs stop sending prompts/silence of
    /// their own, except silence while the other side has been quiet for
    /// over 60 ms. A stream already bridged elsewhere is first unbridged.
    ///
    /// Fails with [`MediaError::Bridge`] for the same stream twice or for
    /// streams of different workers (streams are never moved).
    pub fn bridge(&self, a: StreamId, b: StreamId) -> Result<(), MediaError> {
        if a == b {
            return Err(MediaError::Bridge("cannot bridge a stream to itself"));
        }
        if a.worker() != b.worker() {
            return Err(MediaError::Bridge(
                "streams are on different workers (allocate one with allocate_with)",
            ));
        }
        let w = self
            .inner
            .workers
            .get(a.worker())
            .ok_or(MediaError::Bridge("unknown stream"))?;
        if w.send(Command::Bridge { a, b }) {
            Ok(())
        } else {
            Err(MediaError::ShutDown)
        }
    }

    /// Ends the bridge of `id` (either leg): both legs go back to their
    /// own play queue or silence. A bridge recording is finalised.
    pub fn unbridge(&self, id: StreamId) {
        self.send(id, Command::Unbridge { id });
    }

    /// Records the current bridge of `a` into a WAV file (8 kHz, 16-bit;
    /// `stereo`: `a` left and its peer right, else both mixed), from the
    /// decoded audio each leg received, cut in 20 ms frames on `a`'s ticks
    /// (silence where a side sent nothing). File I/O (the folder of `path`
    /// included) runs on one writer thread for all recordings; frames it cannot take in time are
    /// dropped and counted. `done` is called (on the writer thread: keep
    /// it quick) with the [`BridgeRecorded`] summary once the file is
    /// finalised, after the unbridge or close (at once, empty, if `a` is
    /// not bridged).
    pub fn record_bridge(
        &self,
        a: StreamId,
        path: PathBuf,
        stereo: bool,
        done: impl FnOnce(BridgeRecorded) + Send + 'static,
    ) -> Result<(), MediaError> {
        let writer = {
            let mut w = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
            match &*w {
                Some(w) => w.clone(),
                None => w.insert(Writer::spawn()?).clone(),
            }
        };
        let rec = self.inner.next_rec.fetch_add(1, Ordering::Relaxed);
        writer
            .control
            .send(Control::Start {
                rec,
                stream: a,
                path,
                stereo,
                done: Box::new(done),
            })
            .map_err(|_| MediaError::ShutDown)?;
        let w = self
            .inner
            .workers
            .get(a.worker())
            .ok_or(MediaError::ShutDown)?;
        if !w.send(Command::RecordBridge {
            id: a,
            rec,
            writer: writer.clone(),
        }) {
            let _ = writer.control.send(Control::Finish {
                rec,
                frames_sent: 0,
                dropped: 0,
            });
            return Err(MediaError::ShutDown);
        }
        Ok(())
    }

    /// Whether streams can send to `remote`: a stream's sockets must be of
    /// its family (bound to `[::]` dual-stack they take both), and the
    /// system must have a route to it from the bind address. Asks the
    /// system (a UDP socket connected, never sent on): a few system calls.
    pub fn reach(&self, remote: IpAddr) -> Reach {
        let ports = &self.inner.ports;
        let bind = ports.ip();
        let remote = remote.to_canonical();
        if !ports.serves(remote) {
            let (ours, theirs) = match bind.is_ipv6() {
                true => ("IPv6", "IPv4"),
                false => ("IPv4", "IPv6"),
            };
            return Reach::Unreachable(format!(
                "ura's RTP sockets are {ours} only (bound to {bind}) and {remote} is {theirs}"
            ));
        }
        // The probe is of the bind address's family (IPv4 as mapped on IPv6).
        let to = match (bind, remote) {
            (IpAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
            _ => remote,
        };
        let probe = crate::ports::bind_udp(SocketAddr::new(bind, 0), true)
            .and_then(|s| s.connect((to, 9)).and_then(|()| s.local_addr()));
        match probe {
            Ok(local) => Reach::Route {
                source: local.ip().to_canonical(),
            },
            Err(e) => Reach::Unreachable(format!("no route from {bind} to {remote}: {e}")),
        }
    }

    /// The address the RTP sockets are bound to (`[::]`: dual-stack).
    pub fn bind_ip(&self) -> IpAddr {
        self.inner.bind_ip
    }

    /// Port pairs currently free for [`allocate`](Self::allocate).
    pub fn free_port_pairs(&self) -> usize {
        self.inner.ports.free_pairs()
    }

    /// Phase ticks processed more than 2 ms late, summed over the workers.
    pub fn late_ticks(&self) -> u64 {
        self.inner
            .workers
            .iter()
            .map(|w| w.stats().late_ticks)
            .sum()
    }

    /// Per-worker load and pacing counters.
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.inner.workers.iter().map(|w| w.stats()).collect()
    }

    /// Stops the workers (for every clone of this handle) and waits for
    /// them. Open streams are dropped without events.
    pub fn shutdown(self) {
        for w in &self.inner.workers {
            w.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_and_route() {
        let id = StreamId((42 << 8) | 3);
        assert_eq!(id.worker(), 3);
        assert_eq!(id.to_string(), format!("ms-{}", (42 << 8) | 3));
        assert_eq!(PlayId(7).to_string(), "play-7");
        assert!(Direction::SendOnly.sends() && !Direction::RecvOnly.sends());
    }

    #[test]
    fn engine_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<MediaEngine>();
        check::<PromptFrames>();
    }

    #[test]
    fn rejects_bad_config() {
        let cfg = MediaConfig {
            workers: 0,
            ..MediaConfig::default()
        };
        assert!(matches!(
            MediaEngine::start(cfg, |_| {}),
            Err(MediaError::InvalidConfig(_))
        ));
        let cfg = MediaConfig {
            rtp_ports: (3001, 3001),
            ..MediaConfig::default()
        };
        assert!(MediaEngine::start(cfg, |_| {}).is_err());
    }
}
