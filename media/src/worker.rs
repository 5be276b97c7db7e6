//! The media worker threads: one mio event loop per thread owning many
//! streams.
//!
//! A worker with no stream disarms its timer and sleeps until a command
//! comes (an idle ura costs no CPU); the first stream added arms it again
//! on the same grid.
//!
//! Pacing: an absolute periodic timerfd wakes the worker every 2 ms (phase
//! tick m at `epoch + m·2 ms`, so it never drifts). Every stream belongs to
//! one of ten phases (the least populated when it is added) and sends its
//! packet for 20 ms tick k at phase tick `k·10 + phase`. Spreading the
//! streams over the period keeps each wake-up short, so a stream's send
//! time does not depend on how long all the other streams of the worker
//! took (with 1,000 calls on two loopback-bound cores a single 20 ms burst
//! takes ~4 ms, which alone would give a ~2 ms p99 spacing error).
//! Sockets are edge-triggered and drained until `WouldBlock`; commands
//! arrive on a channel with a mio `Waker`. Nothing is allocated per packet.

use crate::bridge::{RecMix, Recorder, Writer};
use crate::engine::{MediaConfig, PlayId, PlayMode, Sink, StreamId, StreamParams, WorkerStats};
use crate::ports::PortAllocator;
use crate::prompt::PromptFrames;
use crate::stream::{BridgeLink, Buffers, Stream};
use crate::sys::{self, TickTimer};
use crate::MediaError;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One packetisation interval: 20 ms.
pub(crate) const TICK_NS: u64 = 20_000_000;
/// Streams are spread over this many phases of the 20 ms period; the
/// worker wakes once per phase (every 2 ms) and sends only that phase's
/// packets, so no stream waits behind all the others of its worker.
pub(crate) const PHASES: u64 = 10;
/// Interval between two phase ticks.
pub(crate) const SUB_TICK_NS: u64 = TICK_NS / PHASES;
/// A tick processed later than this after its deadline counts as late.
const LATE_NS: u64 = 2_000_000;
/// Up to this many missed ticks are caught up by sending; beyond, skipped.
const MAX_CATCH_UP: u64 = 10;

const WAKER: Token = Token(usize::MAX);
const TIMER: Token = Token(usize::MAX - 1);

/// A request from the engine handle to a worker.
pub(crate) enum Command {
    Add {
        id: StreamId,
        rtp: UdpSocket,
        rtcp: UdpSocket,
    },
    Start {
        id: StreamId,
        params: StreamParams,
    },
    Update {
        id: StreamId,
        params: StreamParams,
    },
    Play {
        id: StreamId,
        play: PlayId,
        prompt: PromptFrames,
        mode: PlayMode,
        looped: bool,
    },
    StopPlay {
        id: StreamId,
    },
    Record {
        id: StreamId,
        max_samples: usize,
    },
    StopRecord {
        id: StreamId,
    },
    Close {
        id: StreamId,
    },
    Bridge {
        a: StreamId,
        b: StreamId,
    },
    Unbridge {
        id: StreamId,
    },
    RecordBridge {
        id: StreamId,
        rec: u64,
        writer: Writer,
    },
    Shutdown,
}

/// Histogram of send-spacing errors in 50 µs buckets (last bucket: ≥ 12.75 ms).
#[derive(Debug, Clone)]
pub(crate) struct SpacingHistogram {
    buckets: [u64; SPACING_BUCKETS],
}

const SPACING_BUCKETS: usize = 256;
const SPACING_BUCKET_NS: u64 = 50_000;

impl Default for SpacingHistogram {
    fn default() -> Self {
        SpacingHistogram {
            buckets: [0; SPACING_BUCKETS],
        }
    }
}

impl SpacingHistogram {
    fn record(&mut self, err_ns: u64) {
        let i = ((err_ns / SPACING_BUCKET_NS) as usize).min(SPACING_BUCKETS - 1);
        self.buckets[i] += 1;
    }

    /// Upper bound of the bucket holding quantile `q` (0-1).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Duration::from_nanos((i as u64 + 1) * SPACING_BUCKET_NS);
            }
        }
        Duration::from_nanos(SPACING_BUCKETS as u64 * SPACING_BUCKET_NS)
    }
}

/// Counters shared between a worker and the engine handle.
#[derive(Debug, Default)]
struct Shared {
    streams: AtomicUsize,
    ticks: AtomicU64,
    late_ticks: AtomicU64,
    max_late_ns: AtomicU64,
    busy_ns: AtomicU64,
    spacing: Mutex<SpacingHistogram>,
}

impl Shared {
    fn publish_spacing(&self, h: &SpacingHistogram) {
        h.clone_into(&mut self.spacing.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The engine's side of one worker.
pub(crate) struct WorkerHandle {
    tx: Mutex<Option<Sender<Command>>>,
    waker: Waker,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WorkerHandle {
    /// Queues a command; false when the worker is gone.
    pub(crate) fn send(&self, cmd: Command) -> bool {
        let sent = match &*self.tx.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(tx) => tx.send(cmd).is_ok(),
            None => false,
        };
        sent && self.waker.wake().is_ok()
    }

    pub(crate) fn load(&self) -> usize {
        self.shared.streams.load(Ordering::Relaxed)
    }

    pub(crate) fn add_load(&self) {
        self.shared.streams.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> WorkerStats {
        WorkerStats {
            streams: self.load(),
            ticks: self.shared.ticks.load(Ordering::Relaxed),
            late_ticks: self.shared.late_ticks.load(Ordering::Relaxed),
            max_lateness: Duration::from_nanos(self.shared.max_late_ns.load(Ordering::Relaxed)),
            tick_busy: Duration::from_nanos(self.shared.busy_ns.load(Ordering::Relaxed)),
            spacing_error_p99: self
                .shared
                .spacing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .quantile(0.99),
        }
    }

    /// Asks the worker to stop and waits for it (idempotent).
    pub(crate) fn stop(&self) {
        self.send(Command::Shutdown);
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// Starts worker `index`, whose tick k is due at `epoch_ns + k·20 ms`.
pub(crate) fn spawn(
    index: usize,
    cfg: Arc<MediaConfig>,
    sink: Sink,
    epoch_ns: u64,
    ports: Arc<PortAllocator>,
) -> Result<WorkerHandle, MediaError> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let timer = TickTimer::new(epoch_ns, SUB_TICK_NS)?;
    poll.registry()
        .register(&mut SourceFd(&timer.raw_fd()), TIMER, Interest::READABLE)?;
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared::default());
    let mut worker = Worker {
        poll,
        rx,
        timer,
        cfg,
        sink,
        ports,
        shared: shared.clone(),
        epoch_ns,
        next_sub: 0,
        next_publish_ns: 0,
        streams: Vec::new(),
        phases: vec![Vec::new(); PHASES as usize],
        free: Vec::new(),
        index: HashMap::new(),
        bufs: Buffers::new(),
        spacing: SpacingHistogram::default(),
        idle: false,
    };
    let thread = std::thread::Builder::new()
        .name(format!("ura-media-{index}"))
        .spawn(move || worker.run())?;
    Ok(WorkerHandle {
        tx: Mutex::new(Some(tx)),
        waker,
        shared,
        thread: Mutex::new(Some(thread)),
    })
}

struct Worker {
    poll: Poll,
    rx: Receiver<Command>,
    timer: TickTimer,
    cfg: Arc<MediaConfig>,
    sink: Sink,
    ports: Arc<PortAllocator>,
    shared: Arc<Shared>,
    epoch_ns: u64,
    /// Next phase tick to process; phase tick m is due at
    /// `epoch + m·SUB_TICK` and belongs to tick m / PHASES of phase m % PHASES.
    next_sub: u64,
    next_publish_ns: u64,
    /// Stream slab; `Token(2i)` is stream i's RTP socket, `Token(2i+1)` its RTCP.
    streams: Vec<Option<Stream>>,
    /// Slab indices of the streams of each phase.
    phases: Vec<Vec<usize>>,
    free: Vec<usize>,
    index: HashMap<StreamId, (usize, usize)>,
    bufs: Buffers,
    spacing: SpacingHistogram,
    /// No stream, timer disarmed: the thread sleeps until a command.
    idle: bool,
}

impl Worker {
    /// With no stream left, stops the tick timer: an idle ura costs no CPU.
    fn sleep_if_idle(&mut self) {
        if self.idle || !self.index.is_empty() {
            return;
        }
        match self.timer.disarm() {
            Ok(()) => self.idle = true,
            Err(e) => tracing::warn!("media worker cannot stop its timer: {e}"),
        }
    }

    /// Before a stream is added: the timer again, from the next phase tick
    /// on the same grid (no backlog of missed ticks to catch up on).
    fn wake(&mut self) {
        if !self.idle {
            return;
        }
        let now = sys::monotonic_ns();
        self.next_sub = now.saturating_sub(self.epoch_ns) / SUB_TICK_NS + 1;
        let first = self.epoch_ns + self.next_sub * SUB_TICK_NS;
        match self.timer.set(first, SUB_TICK_NS) {
            Ok(()) => self.idle = false,
            Err(e) => tracing::error!("media worker cannot start its timer: {e}"),
        }
    }

    fn run(&mut self) {
        sys::set_timer_slack_1us();
        if self.cfg.realtime {
            let how = sys::raise_thread_priority(10);
            tracing::info!(
                "media worker priority: {}",
                how.unwrap_or("normal (no privilege to raise it)")
            );
        }
        let mut events = Events::with_capacity(1024);
        self.sleep_if_idle();
        loop {
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("media worker poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(1));
                }
                continue;
            }
            if !self.idle {
                self.run_due_ticks();
            }
            for (n, ev) in events.iter().enumerate() {
                if n % 32 == 31 && !self.idle {
                    self.run_due_ticks();
                }
                match ev.token() {
                    TIMER => self.timer.drain(),
                    WAKER => {
                        if !self.handle_commands() {
                            return;
                        }
                    }
                    Token(t) => self.readable(t),
                }
            }
            self.sleep_if_idle();
        }
    }

    /// Sends the packets of every slot tick whose deadline has passed.
    fn run_due_ticks(&mut self) {
        let now = sys::monotonic_ns();
        if now < self.epoch_ns + self.next_sub * SUB_TICK_NS {
            return;
        }
        let due = (now - self.epoch_ns) / SUB_TICK_NS;
        let late = now - (self.epoch_ns + due * SUB_TICK_NS);
        let behind = due - self.next_sub;
        let late_count = behind + u64::from(late > LATE_NS);
        self.shared.ticks.fetch_add(behind + 1, Ordering::Relaxed);
        if late_count > 0 {
            self.shared
                .late_ticks
                .fetch_add(late_count, Ordering::Relaxed);
        }
        let worst = behind * SUB_TICK_NS + late;
        self.shared.max_late_ns.fetch_max(worst, Ordering::Relaxed);
        // Far behind: skip sending all but the latest tick of each phase.
        let send_from = if behind > MAX_CATCH_UP * PHASES {
            due + 1 - PHASES
        } else {
            0
        };
        for m in self.next_sub..=due {
            let (k, phase) = (m / PHASES, (m % PHASES) as usize);
            let deadline = self.epoch_ns + m * SUB_TICK_NS;
            for &i in &self.phases[phase] {
                let Some(Some(s)) = self.streams.get_mut(i) else {
                    continue;
                };
                let sink = &*self.sink;
                if let Some(err) = s.tick(k, m >= send_from, deadline, &mut self.bufs, sink) {
                    self.spacing.record(err);
                }
                s.housekeeping(now, &self.cfg, &mut self.bufs, sink);
            }
        }
        self.next_sub = due + 1;
        let end = sys::monotonic_ns();
        self.shared.busy_ns.fetch_add(end - now, Ordering::Relaxed);
        if end >= self.next_publish_ns {
            self.next_publish_ns = end + 1_000_000_000;
            self.shared.publish_spacing(&self.spacing);
        }
    }

    fn readable(&mut self, token: usize) {
        let (slot, rtcp) = (token / 2, token % 2 == 1);
        let peer_slot = match self.streams.get(slot) {
            Some(Some(s)) => s.bridge_slot(),
            _ => return,
        };
        let (Some(s), peer) = pair_mut(&mut self.streams, slot, peer_slot) else {
            return;
        };
        if rtcp {
            s.drain_rtcp(&mut self.bufs);
        } else {
            s.drain_rtp(&mut self.bufs, &*self.sink, peer);
        }
    }

    /// Applies queued commands; false on shutdown.
    fn handle_commands(&mut self) -> bool {
        loop {
            let cmd = match self.rx.try_recv() {
                Ok(cmd) => cmd,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let now = sys::monotonic_ns();
            match cmd {
                Command::Shutdown => return false,
                Command::Add { id, rtp, rtcp } => {
                    self.wake();
                    let port = rtp.local_addr().map_or(0, |a| a.port());
                    if let Err(e) = self.add(id, rtp, rtcp) {
                        // The sockets were dropped by `add`.
                        self.ports.release(port);
                        tracing::error!(stream = %id, "cannot register stream: {e}");
                        self.shared.streams.fetch_sub(1, Ordering::Relaxed);
                        (self.sink)(crate::MediaEvent::Closed {
                            stream: id,
                            stats: Default::default(),
                        });
                    }
                }
                Command::Start { id, params } => {
                    let Some(&(slab, phase)) = self.index.get(&id) else {
                        continue;
                    };
                    // The first tick of this stream's phase not yet processed.
                    let phase = phase as u64;
                    let k = self.next_sub.saturating_sub(phase).div_ceil(PHASES);
                    let deadline = self.epoch_ns + (k * PHASES + phase) * SUB_TICK_NS;
                    if let Some(Some(s)) = self.streams.get_mut(slab) {
                        s.start(params, k, deadline, now, &self.cfg);
                    }
                }
                Command::Update { id, params } => {
                    if let Some(s) = self.stream(id) {
                        s.update(params, now);
                    }
                }
                Command::Play {
                    id,
                    play,
                    prompt,
                    mode,
                    looped,
                } => {
                    if let Some(s) = self.stream(id) {
                        s.play(play, prompt, mode, looped);
                    }
                }
                Command::StopPlay { id } => {
                    if let Some(s) = self.stream(id) {
                        s.stop_play();
                    }
                }
                Command::Record { id, max_samples } => {
                    if let Some(s) = self.stream(id) {
                        s.start_recording(max_samples);
                    }
                }
                Command::StopRecord { id } => {
                    let sink = self.sink.clone();
                    if let Some(s) = self.stream(id) {
                        s.stop_recording(&*sink);
                    }
                }
                Command::Close { id } => self.close(id, now),
                Command::Bridge { a, b } => self.bridge(a, b),
                Command::Unbridge { id } => self.unbridge(id),
                Command::RecordBridge { id, rec, writer } => self.record_bridge(id, rec, writer),
            }
        }
    }

    fn stream(&mut self, id: StreamId) -> Option<&mut Stream> {
        let (slab, _) = *self.index.get(&id)?;
        self.streams.get_mut(slab)?.as_mut()
    }

    fn slot(&self, id: StreamId) -> Option<usize> {
        let &(slot, _) = self.index.get(&id)?;
        self.streams.get(slot)?.as_ref().map(|_| slot)
    }

    /// Links `a` and `b` (each is first unbridged from any other peer).
    fn bridge(&mut self, a: StreamId, b: StreamId) {
        let (Some(sa), Some(sb)) = (self.slot(a), self.slot(b)) else {
            tracing::warn!(%a, %b, "bridge: unknown stream");
            return;
        };
        if sa == sb {
            return;
        }
        if self.stream(a).and_then(|s| s.bridged_to()) == Some(b) {
            return;
        }
        self.unbridge(a);
        self.unbridge(b);
        if let Some(s) = self.stream(a) {
            s.set_bridge(BridgeLink {
                peer: b,
                peer_slot: sb,
            });
        }
        if let Some(s) = self.stream(b) {
            s.set_bridge(BridgeLink {
                peer: a,
                peer_slot: sa,
            });
        }
    }

    /// Unlinks `id` and its peer, if bridged; a recording is finalised.
    fn unbridge(&mut self, id: StreamId) {
        let Some(link) = self.stream(id).and_then(|s| s.clear_bridge()) else {
            return;
        };
        if let Some(s) = self.stream(link.peer) {
            s.clear_bridge();
        }
    }

    /// Records the bridge of `id` (left/side 0: `id`, right/side 1: its peer).
    fn record_bridge(&mut self, id: StreamId, rec: u64, writer: Writer) {
        let peer = self.stream(id).and_then(|s| s.bridged_to());
        let recorder = Recorder {
            rec,
            mix: Arc::new(Mutex::new(RecMix::new())),
            writer,
            frames_sent: 0,
            dropped: 0,
        };
        let Some(peer) = peer else {
            // Not bridged: an empty recording, finalised at once.
            recorder.finish();
            return;
        };
        let mix = recorder.mix.clone();
        if let Some(s) = self.stream(peer) {
            // One recording per bridge: one started from the other leg ends.
            s.end_recording();
            s.set_rec_tap(mix.clone(), 1);
        }
        match self.stream(id) {
            Some(s) => {
                s.set_rec_tap(mix, 0);
                s.set_recorder(recorder);
            }
            None => recorder.finish(),
        }
    }

    fn add(&mut self, id: StreamId, rtp: UdpSocket, rtcp: UdpSocket) -> io::Result<()> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.streams.push(None);
            self.streams.len() - 1
        });
        let mut rtp = mio::net::UdpSocket::from_std(rtp);
        let mut rtcp = mio::net::UdpSocket::from_std(rtcp);
        let reg = self.poll.registry();
        let registered = reg
            .register(&mut rtp, Token(2 * slot), Interest::READABLE)
            .and_then(|_| reg.register(&mut rtcp, Token(2 * slot + 1), Interest::READABLE));
        if let Err(e) = registered {
            let _ = reg.deregister(&mut rtp);
            self.free.push(slot);
            return Err(e);
        }
        let port = rtp.local_addr().map_or(0, |a| a.port());
        let mut stream = Stream::new(id, rtp, rtcp);
        stream.port = port;
        self.streams[slot] = Some(stream);
        let phase = (0..self.phases.len())
            .min_by_key(|&p| self.phases[p].len())
            .unwrap_or(0);
        self.phases[phase].push(slot);
        self.index.insert(id, (slot, phase));
        Ok(())
    }

    fn close(&mut self, id: StreamId, now: u64) {
        // The other leg of a bridge goes back to ticking.
        self.unbridge(id);
        let Some((slot, phase)) = self.index.remove(&id) else {
            return;
        };
        if let Some(pos) = self.phases[phase].iter().position(|&i| i == slot) {
            self.phases[phase].swap_remove(pos);
        }
        let Some(mut s) = self.streams[slot].take() else {
            return;
        };
        self.free.push(slot);
        self.shared.streams.fetch_sub(1, Ordering::Relaxed);
        let stats = s.finish(now, &mut self.bufs);
        s.deregister(self.poll.registry());
        let port = s.port;
        drop(s);
        // The sockets are closed: the pair may be handed out again.
        self.ports.release(port);
        (self.sink)(crate::MediaEvent::Closed { stream: id, stats });
    }
}

/// Mutable access to slab entry `i` and, if given and different, entry `j`.
fn pair_mut(
    v: &mut [Option<Stream>],
    i: usize,
    j: Option<usize>,
) -> (Option<&mut Stream>, Option<&mut Stream>) {
    match j {
        Some(j) if j != i && j < v.len() && i < v.len() => {
            if i < j {
                let (lo, hi) = v.split_at_mut(j);
                (lo[i].as_mut(), hi[0].as_mut())
            } else {
                let (lo, hi) = v.split_at_mut(i);
                (hi[0].as_mut(), lo[j].as_mut())
            }
        }
        _ => (v.get_mut(i).and_then(|s| s.as_mut()), None),
    }
}
