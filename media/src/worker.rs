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
//! Sockets are edge-triggered and drained in batches (`recvmmsg`) until a
//! short batch; commands arrive on a channel with a mio `Waker`. Nothing is
//! allocated per packet.
//!
//! Waking: the streams' sockets live in a second epoll (`media`). While a
//! worker receives few packets, that epoll sits in the main one and a
//! packet wakes the worker at once. Past [`POLL_ENTER_PPS`] packets a
//! second the worker polls instead: the timer fires every [`POLL_NS`]
//! (0.5 ms) and each wake-up reads every socket that has data, so a wake-up
//! (a context switch, an `epoll_wait`) serves many packets instead of one,
//! at the price of at most 0.5 ms more relay latency. Below
//! [`POLL_LEAVE_PPS`] it goes back to waking per packet.
//!
//! CPU budget: workers run at real-time priority (when allowed) so that
//! pacing holds on a busy machine. A worker that used more than
//! [`BUDGET_DEMOTE`] of a core over a second drops to normal priority until
//! it is under [`BUDGET_RESTORE`]: media that could take every core would
//! otherwise starve call control (SIP, hang-ups, admission), which runs at
//! normal priority and is what sheds the load.

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
use std::os::fd::AsRawFd;
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
/// Interval between wake-ups in polled mode (a divisor of [`SUB_TICK_NS`],
/// so the send phases stay on the same grid).
pub(crate) const POLL_NS: u64 = 500_000;
/// Packets received per second from which a worker polls its sockets
/// every [`POLL_NS`] instead of waking for each packet (at 2,000 a second,
/// the polling wake-ups alone would be as many as the packets).
pub(crate) const POLL_ENTER_PPS: u64 = 3_000;
/// Packets per second under which a polling worker wakes per packet again.
pub(crate) const POLL_LEAVE_PPS: u64 = 1_500;
/// The receive rate is measured over windows this long.
const RATE_WINDOW_NS: u64 = 100_000_000;
// Polling keeps the send phases on their grid, and pays off only past one
// packet per polling interval.
const _: () = assert!(SUB_TICK_NS.is_multiple_of(POLL_NS));
const _: () = assert!(POLL_LEAVE_PPS < POLL_ENTER_PPS);
const _: () = assert!(POLL_ENTER_PPS > 1_000_000_000 / POLL_NS);

/// Socket events taken from the `media` epoll per call.
const MEDIA_EVENTS: usize = 256;

const WAKER: Token = Token(usize::MAX);
const TIMER: Token = Token(usize::MAX - 1);
const MEDIA: Token = Token(usize::MAX - 2);
/// Share of a core above which a real-time worker drops to normal priority.
pub(crate) const BUDGET_DEMOTE: f64 = 0.9;
/// Share of a core under which a demoted worker gets its priority back.
pub(crate) const BUDGET_RESTORE: f64 = 0.7;
/// The CPU budget is checked over windows this long.
const BUDGET_WINDOW_NS: u64 = 1_000_000_000;

/// Whether a worker that used `cpu_ns` of CPU over `wall_ns` should be at
/// normal priority, given whether it is now (`demoted`): the hysteresis
/// between [`BUDGET_DEMOTE`] and [`BUDGET_RESTORE`] keeps it from flapping.
pub(crate) fn over_budget(cpu_ns: u64, wall_ns: u64, demoted: bool) -> bool {
    if wall_ns == 0 {
        return demoted;
    }
    let share = cpu_ns as f64 / wall_ns as f64;
    if demoted {
        share >= BUDGET_RESTORE
    } else {
        share > BUDGET_DEMOTE
    }
}

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
    polled: std::sync::atomic::AtomicBool,
    over_budget: std::sync::atomic::AtomicBool,
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
            polled: self.shared.polled.load(Ordering::Relaxed),
            over_budget: self.shared.over_budget.load(Ordering::Relaxed),
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
    let media = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let timer = TickTimer::new(epoch_ns, SUB_TICK_NS)?;
    poll.registry()
        .register(&mut SourceFd(&timer.raw_fd()), TIMER, Interest::READABLE)?;
    poll.registry()
        .register(&mut SourceFd(&media.as_raw_fd()), MEDIA, Interest::READABLE)?;
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared::default());
    let mut worker = Worker {
        poll,
        media,
        media_events: Events::with_capacity(MEDIA_EVENTS),
        polled: false,
        rx_window: 0,
        window_start_ns: sys::monotonic_ns(),
        raised: false,
        demoted: false,
        budget_start: (0, 0),
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
    /// The worker's wake-ups: timer, commands, and (unless polled) `media`.
    poll: Poll,
    /// The streams' sockets.
    media: Poll,
    media_events: Events,
    /// Polled mode: `media` is out of `poll` and read every [`POLL_NS`].
    polled: bool,
    /// RTP packets received since `window_start_ns`.
    rx_window: u64,
    window_start_ns: u64,
    /// The thread got a raised priority at start.
    raised: bool,
    /// Over its CPU budget: at normal priority for now.
    demoted: bool,
    /// (wall clock, thread CPU time) at the start of the budget window.
    budget_start: (u64, u64),
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
        if self.polled {
            self.set_polled(false);
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
            self.raised = how.is_some();
            tracing::info!(
                "media worker priority: {}",
                how.unwrap_or("normal (no privilege to raise it)")
            );
        }
        self.budget_start = (sys::monotonic_ns(), sys::thread_cpu_ns());
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
            let mut media_ready = self.polled;
            for ev in events.iter() {
                match ev.token() {
                    TIMER => self.timer.drain(),
                    WAKER => {
                        if !self.handle_commands() {
                            return;
                        }
                    }
                    MEDIA => media_ready = true,
                    Token(_) => {}
                }
            }
            if media_ready {
                self.read_ready();
            }
            self.choose_mode();
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

    /// Reads every stream socket that has data (until `media` has no event
    /// left), keeping the send phases on time in between.
    fn read_ready(&mut self) {
        let mut events = std::mem::replace(&mut self.media_events, Events::with_capacity(0));
        loop {
            if let Err(e) = self.media.poll(&mut events, Some(Duration::ZERO)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!("media worker socket poll failed: {e}");
                break;
            }
            let mut n = 0;
            for ev in events.iter() {
                n += 1;
                if n % 32 == 0 && !self.idle {
                    self.run_due_ticks();
                }
                self.readable(ev.token().0);
            }
            if n < MEDIA_EVENTS {
                break;
            }
        }
        self.media_events = events;
    }

    /// Every second: a raised worker over [`BUDGET_DEMOTE`] of a core
    /// drops to normal priority, and gets it back under [`BUDGET_RESTORE`].
    fn check_budget(&mut self, now: u64) {
        let (start, cpu_start) = self.budget_start;
        let wall = now.saturating_sub(start);
        if !self.raised || wall < BUDGET_WINDOW_NS {
            return;
        }
        let cpu_now = sys::thread_cpu_ns();
        let cpu = cpu_now.saturating_sub(cpu_start);
        self.budget_start = (now, cpu_now);
        let over = over_budget(cpu, wall, self.demoted);
        if over == self.demoted {
            return;
        }
        let share = 100.0 * cpu as f64 / wall as f64;
        if over {
            if sys::normal_thread_priority() {
                tracing::warn!(
                    "media worker used {share:.0}% of a core over the last second: normal priority until under {:.0}%, so that call control keeps its share",
                    BUDGET_RESTORE * 100.0
                );
            } else {
                tracing::warn!("media worker over its CPU budget ({share:.0}%) but its priority could not be lowered");
                return;
            }
        } else {
            let how = sys::raise_thread_priority(10);
            tracing::info!(
                "media worker back under its CPU budget ({share:.0}% of a core): priority {}",
                how.unwrap_or("normal (no privilege to raise it again)")
            );
        }
        self.demoted = over;
        self.shared.over_budget.store(over, Ordering::Relaxed);
    }

    /// Polls when packets come faster than [`POLL_ENTER_PPS`], wakes per
    /// packet again under [`POLL_LEAVE_PPS`] (measured over 100 ms).
    fn choose_mode(&mut self) {
        let now = sys::monotonic_ns();
        self.check_budget(now);
        let elapsed = now.saturating_sub(self.window_start_ns);
        if elapsed < RATE_WINDOW_NS {
            return;
        }
        let pps = self.rx_window * 1_000_000_000 / elapsed;
        self.rx_window = 0;
        self.window_start_ns = now;
        let polled = if self.polled {
            pps >= POLL_LEAVE_PPS
        } else {
            pps >= POLL_ENTER_PPS && !self.idle
        };
        if polled != self.polled {
            self.set_polled(polled);
        }
    }

    /// Switches between polling `media` every [`POLL_NS`] and waking on
    /// its events; the timer keeps the same grid either way.
    fn set_polled(&mut self, polled: bool) {
        let fd = self.media.as_raw_fd();
        let registry = self.poll.registry();
        let moved = if polled {
            registry.deregister(&mut SourceFd(&fd))
        } else {
            registry.register(&mut SourceFd(&fd), MEDIA, Interest::READABLE)
        };
        if let Err(e) = moved {
            tracing::error!("media worker cannot switch its polling: {e}");
            return;
        }
        self.polled = polled;
        self.shared.polled.store(polled, Ordering::Relaxed);
        tracing::debug!(polled, "media worker wake-ups");
        if self.idle {
            return;
        }
        let period = if polled { POLL_NS } else { SUB_TICK_NS };
        let now = sys::monotonic_ns();
        let first = self.epoch_ns + (now.saturating_sub(self.epoch_ns) / period + 1) * period;
        if let Err(e) = self.timer.set(first, period) {
            tracing::error!("media worker cannot set its timer: {e}");
        }
        if !polled {
            // Whatever came while the events were not watched.
            self.read_ready();
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
            let n = s.drain_rtp(&mut self.bufs, &*self.sink, peer);
            self.rx_window += n as u64;
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
        let reg = self.media.registry();
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
        s.deregister(self.media.registry());
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn cpu_budget_demotes_above_90_percent_and_restores_under_70() {
        // At real-time priority: only more than 90 % of a core demotes.
        assert!(!over_budget(S * 9 / 10, S, false));
        assert!(over_budget(S * 91 / 100, S, false));
        assert!(over_budget(2 * S, 2 * S, false));
        // Demoted: stays so down to 70 %, then gets its priority back.
        assert!(over_budget(S * 85 / 100, S, true));
        assert!(over_budget(S * 7 / 10, S, true));
        assert!(!over_budget(S * 69 / 100, S, true));
        // No time passed: no change either way.
        assert!(over_budget(5, 0, true));
        assert!(!over_budget(5, 0, false));
    }
}
