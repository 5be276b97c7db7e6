//! The core task's inputs: two bounded lanes, and the shedder that answers
//! 503 off the core when new requests come faster than the core takes them.
//!
//! - **High lane** ([`HIGH_LANE`] inputs): everything about calls ura
//!   already has (responses, ACK, CANCEL, any request with a To tag), media
//!   events, TCP open/close, the ring timer, reload and prompt admin. The
//!   core always drains it first. It is sized so it does not fill: at 5,000
//!   calls a media worker reports a handful of events per call per minute,
//!   and in-dialog SIP is a few messages per call. A UDP message that finds
//!   it full is dropped (the peer retransmits), counted and logged; a TCP
//!   reader waits (back-pressure on that connection); a media event that
//!   finds it full is counted and logged (the workers never block); the
//!   core's own inputs (ring timer, saved prompt) wait in a task.
//! - **New lane** ([`NEW_LANE`] inputs): new INVITEs and other requests
//!   outside a dialog, stamped with their arrival time. The core takes one
//!   only when the high lane is empty. A request that finds the lane full,
//!   or that waited more than [`MAX_WAIT`] when the core gets to it (with
//!   [`LATE_BACKLOG`] more behind it: the core is behind, not merely
//!   descheduled for a moment), goes to the shedder instead. Call-IDs are remembered for 32 s on both
//!   sides: a retransmission of a shed INVITE is shed again (never a 200
//!   after a 503), one of an INVITE the core took goes to the core
//!   whatever its age (its transaction answers it again).
//! - **Shedder** ([`SHED_LANE`] inputs, a task of its own): answers 503
//!   (with a To tag and Retry-After) built from the request alone, records
//!   the refused INVITE (cause `shed-503`; not one refused for its
//!   source's rate, which is a flood's, counted in `/metrics`), and
//!   remembers its Call-ID for
//!   32 s so retransmissions of it get the same 503 without reaching the
//!   core. Past its bound a request is dropped and counted: the harder
//!   bound, which keeps memory flat under any flood.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use ura_media::MediaEvent;
use ura_sip::builder::{response, response_flow, ResponseSpec};
use ura_sip::message::{name_addr_uri, uri_user, Method};
use ura_sip::{Flow, Message};
use ura_store::{CallRecord, HangupSide};

use super::admission::RateLimited;
use super::records::RecordSender;
use super::sip_io::TcpWriter;
use super::sources::{SourceLimit, SourceLimiter};
use super::CoreInput;

/// Inputs about existing calls, media and control waiting for the core.
pub const HIGH_LANE: usize = 65_536;
/// New requests waiting for the core.
pub const NEW_LANE: usize = 2_048;
/// A new request older than this when the core gets to it is shed, if
/// at least [`LATE_BACKLOG`] more wait behind it.
pub const MAX_WAIT: Duration = Duration::from_millis(200);
/// New requests queued behind a late one for it to be shed: a late
/// request with (almost) nothing behind it means ura was not scheduled
/// for a moment, not that requests come faster than the core takes them,
/// and it is cheaper to answer it than to refuse it.
pub const LATE_BACKLOG: usize = 32;
/// Requests waiting for a 503.
pub const SHED_LANE: usize = 8_192;
/// How long a shed Call-ID is remembered (Timer B: 64·T1).
const SHED_MEMORY: Duration = Duration::from_secs(32);
/// Most shed Call-IDs remembered.
const SHED_MEMORY_MAX: usize = 131_072;

/// A new request on its way to the core.
pub struct NewRequest {
    /// When the reader got it.
    pub at: Instant,
    /// Where from.
    pub flow: Flow,
    /// The bytes.
    pub data: Vec<u8>,
    /// How to answer it without the core.
    pub reply: Reply,
}

/// The way back to a peer, for the shedder.
#[derive(Clone)]
pub enum Reply {
    /// The SIP UDP socket.
    Udp(Arc<UdpSocket>),
    /// The TCP connection's writer.
    Tcp(TcpWriter),
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy)]
pub enum Shed {
    /// The new lane was full.
    Full,
    /// It waited too long for the core.
    Late,
    /// Its Call-ID was shed before (a retransmission).
    Again,
    /// ura is stopping.
    Stopping,
    /// Its source address sent new requests faster than its rate.
    SourceRate,
}

impl Shed {
    /// How many reasons there are.
    pub const COUNT: usize = 5;
    /// Every reason, in `as usize` order.
    pub const ALL: [Shed; Shed::COUNT] = [
        Shed::Full,
        Shed::Late,
        Shed::Again,
        Shed::Stopping,
        Shed::SourceRate,
    ];

    /// Whether a request shed for this reason is a call record
    /// (`shed-503`). A retransmission's first copy was (when it was one);
    /// a request over its source's rate is not a caller's call: a flood
    /// from one address would fill the store and the webhook receivers,
    /// so it is counted in `/metrics` and logged with its source instead.
    pub fn recorded(self) -> bool {
        !matches!(self, Shed::Again | Shed::SourceRate)
    }

    /// The reason's label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Shed::Full => "lane_full",
            Shed::Late => "waited_too_long",
            Shed::Again => "retransmitted",
            Shed::Stopping => "stopping",
            Shed::SourceRate => "source_rate",
        }
    }
}

/// Counters of what was shed or lost, for logs and tests.
#[derive(Debug, Default)]
pub struct ShedStats {
    /// Answered 503 off the core.
    pub answered_503: AtomicU64,
    /// Dropped unanswered: the shedder was full, or the request unparsable.
    pub dropped: AtomicU64,
    /// UDP messages about existing calls dropped: the high lane was full.
    pub high_full: AtomicU64,
    /// Media events lost: the high lane was full.
    pub media_lost: AtomicU64,
    /// Answered 503 off the core, by [`Shed`] (its `as usize`).
    pub by_reason: [AtomicU64; Shed::COUNT],
    /// Source addresses the rate limit tracks now (at most 16,384).
    pub sources_tracked: AtomicU64,
    /// Call-IDs the shedder remembers now (at most 131,072).
    pub remembered: AtomicU64,
    shed_log: RateLimited,
    drop_log: RateLimited,
    high_log: RateLimited,
    media_log: RateLimited,
    source_log: RateLimited,
}

/// The sending side of the lanes.
#[derive(Clone)]
pub struct Lanes {
    high: mpsc::Sender<CoreInput>,
    chat: mpsc::Sender<super::chats::ChatInput>,
    new: mpsc::Sender<NewRequest>,
    shed: mpsc::Sender<(NewRequest, Shed)>,
    memory: Arc<Mutex<RecentCalls>>,
    accepted: Arc<Mutex<RecentCalls>>,
    sources: Arc<Mutex<SourceLimiter>>,
    /// Counters.
    pub stats: Arc<ShedStats>,
}

/// The receiving side, for the core.
pub struct LaneReceivers {
    /// Existing calls, media, control.
    pub high: mpsc::Receiver<CoreInput>,
    /// New requests.
    pub new: mpsc::Receiver<NewRequest>,
    /// Web chat and agent desk sockets.
    pub chat: mpsc::Receiver<super::chats::ChatInput>,
}

/// The lanes and the shedder task (which writes refused INVITEs' records
/// to `records` and signs its 503s with `user_agent`).
pub fn lanes(
    records: RecordSender,
    user_agent: String,
    limit: SourceLimit,
) -> (Lanes, LaneReceivers) {
    let (high, high_rx) = mpsc::channel(HIGH_LANE);
    let (new, new_rx) = mpsc::channel(NEW_LANE);
    let (chat, chat_rx) = mpsc::channel(super::chats::CHAT_LANE);
    let (shed, shed_rx) = mpsc::channel(SHED_LANE);
    let memory = Arc::new(Mutex::new(RecentCalls::default()));
    let stats = Arc::new(ShedStats::default());
    tokio::spawn(shedder(
        shed_rx,
        memory.clone(),
        stats.clone(),
        records,
        user_agent,
    ));
    (
        Lanes {
            high,
            chat,
            new,
            shed,
            memory,
            accepted: Arc::default(),
            sources: Arc::new(Mutex::new(SourceLimiter::new(limit))),
            stats,
        },
        LaneReceivers {
            high: high_rx,
            new: new_rx,
            chat: chat_rx,
        },
    )
}

/// The core is gone.
#[derive(Debug)]
pub struct Stopped;

/// Why a chat input was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRefused {
    /// The chat lane is full: send it again in a moment.
    Busy,
    /// ura is stopping.
    Stopped,
}

impl Lanes {
    /// An input from inside the engine (ring timer, saved prompt, reload):
    /// never blocks; if the high lane is full, a task waits for room.
    pub fn send(&self, input: CoreInput) -> Result<(), Stopped> {
        match self.high.try_send(input) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(input)) => {
                let high = self.high.clone();
                tokio::spawn(async move {
                    let _ = high.send(input).await;
                });
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stopped),
        }
    }

    /// An input from a web socket: refused at once when the chat lane is
    /// full (the socket says "busy" and the client sends it again), never
    /// waiting, so a flood of chat cannot hold up calls.
    pub fn chat(&self, input: super::chats::ChatInput) -> Result<(), ChatRefused> {
        self.chat.try_send(input).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ChatRefused::Busy,
            mpsc::error::TrySendError::Closed(_) => ChatRefused::Stopped,
        })
    }

    /// An input that may wait for room (TCP readers: back-pressure).
    pub async fn send_wait(&self, input: CoreInput) -> Result<(), Stopped> {
        self.high.send(input).await.map_err(|_| Stopped)
    }

    /// A media event, from a worker thread: never blocks; counted and
    /// logged when the high lane is full.
    pub fn media(&self, ev: MediaEvent) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.high.try_send(CoreInput::Media(ev)) {
            self.stats.media_lost.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = self.stats.media_log.hit() {
                tracing::error!(
                    lost = n,
                    total = self.stats.media_log.total(),
                    "media events lost: the core's input lane ({HIGH_LANE}) is full"
                );
            }
        }
    }

    /// A UDP message about an existing call: dropped (counted, logged) when
    /// the high lane is full; the peer retransmits. `Err` once the core is
    /// gone.
    pub fn udp_in_dialog(&self, input: CoreInput) -> Result<(), Stopped> {
        match self.high.try_send(input) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.high_full.fetch_add(1, Ordering::Relaxed);
                if let Some(n) = self.stats.high_log.hit() {
                    tracing::warn!(
                        dropped = n,
                        total = self.stats.high_log.total(),
                        "SIP messages dropped: the core's input lane ({HIGH_LANE}) is full"
                    );
                }
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stopped),
        }
    }

    /// A new request: to the core's new lane, or straight to the shedder
    /// when its Call-ID was shed before, its source is over its rate, or
    /// the lane is full. A retransmission of a request the core took is
    /// not new state: it does not count against its source's rate.
    pub fn offer_new(&self, req: NewRequest, call_id: Option<&str>) -> Result<(), Stopped> {
        let taken = match call_id {
            Some(id) => {
                if lock(&self.memory).contains(id, req.at) {
                    self.shed(req, Shed::Again);
                    return Ok(());
                }
                lock(&self.accepted).contains(id, req.at)
            }
            None => false,
        };
        if !taken && !self.within_rate(req.flow.remote.ip(), req.at) {
            self.shed(req, Shed::SourceRate);
            return Ok(());
        }
        match self.new.try_send(req) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(req)) => {
                if taken {
                    // A retransmission of a call the core has: it answers
                    // the next one from its transaction.
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.shed(req, Shed::Full);
                }
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stopped),
        }
    }

    /// Whether a new request from `source` at `at` is within its rate;
    /// logs (once a second at most) when it is not.
    fn within_rate(&self, source: std::net::IpAddr, at: Instant) -> bool {
        let within = {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            let within = sources.allow(source, at);
            let tracked = sources.tracked() as u64;
            self.stats.sources_tracked.store(tracked, Ordering::Relaxed);
            within
        };
        if !within {
            if let Some(n) = self.stats.source_log.hit() {
                tracing::warn!(
                    %source,
                    refused = n,
                    total = self.stats.source_log.total(),
                    "new SIP requests from one address over its rate (source_rate): answered 503"
                );
            }
        }
        within
    }

    /// What the core does with a new request it takes from the lane:
    /// `None` to handle it, else why it is shed. A Call-ID shed before is
    /// shed again (never a 200 after a 503); one the core took before is
    /// handled whatever its age (a retransmission, answered by its
    /// transaction); anything else older than [`MAX_WAIT`] with `backlog`
    /// (requests still in the lane) at least [`LATE_BACKLOG`] is shed.
    pub fn triage(&self, req: &NewRequest, backlog: usize) -> Option<Shed> {
        let now = Instant::now();
        let late = now.duration_since(req.at) > MAX_WAIT && backlog >= LATE_BACKLOG;
        let Lane::New { call_id: Some(id) } = classify(&req.data) else {
            return late.then_some(Shed::Late);
        };
        if lock(&self.memory).contains(id, now) {
            return Some(Shed::Again);
        }
        let mut accepted = lock(&self.accepted);
        if accepted.contains(id, now) {
            return None;
        }
        if late {
            return Some(Shed::Late);
        }
        accepted.mark(id, now);
        None
    }

    /// Hands a request to the shedder; dropped (counted) when it is full.
    /// Its Call-ID is remembered at once, so no copy of it still queued
    /// reaches the core.
    pub fn shed(&self, req: NewRequest, why: Shed) {
        if let Lane::New { call_id: Some(id) } = classify(&req.data) {
            lock(&self.memory).mark(id, Instant::now());
        }
        if self.shed.try_send((req, why)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = self.stats.drop_log.hit() {
                tracing::warn!(
                    dropped = n,
                    total = self.stats.drop_log.total(),
                    "new SIP requests dropped unanswered: the 503 queue ({SHED_LANE}) is full"
                );
            }
        }
    }
}

/// Call-IDs seen lately (shed, or taken by the core), with the To tag
/// of their 503 and whether their record was written.
#[derive(Default)]
struct RecentCalls {
    ids: HashMap<String, (Option<String>, bool)>,
    order: VecDeque<(Instant, String)>,
}

impl RecentCalls {
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < SHED_MEMORY && self.order.len() <= SHED_MEMORY_MAX {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    fn contains(&mut self, call_id: &str, now: Instant) -> bool {
        self.expire(now);
        self.ids.contains_key(call_id)
    }

    /// Remembers `call_id`.
    fn mark(&mut self, call_id: &str, now: Instant) {
        self.expire(now);
        if !self.ids.contains_key(call_id) {
            self.ids.insert(call_id.to_string(), (None, false));
            self.order.push_back((now, call_id.to_string()));
        }
    }

    /// The To tag of `call_id`'s 503, and whether its record is still to
    /// be written (true once).
    fn tag(&mut self, call_id: &str, now: Instant) -> (String, bool) {
        self.mark(call_id, now);
        let Some((tag, recorded)) = self.ids.get_mut(call_id) else {
            return (String::new(), false);
        };
        let tag = tag
            .get_or_insert_with(|| format!("{:016x}", fastrand::u64(..)))
            .clone();
        let first = !*recorded;
        *recorded = true;
        (tag, first)
    }
}

async fn shedder(
    mut rx: mpsc::Receiver<(NewRequest, Shed)>,
    memory: Arc<Mutex<RecentCalls>>,
    stats: Arc<ShedStats>,
    records: RecordSender,
    user_agent: String,
) {
    let mut counts = [0u64; Shed::COUNT];
    while let Some((req, why)) = rx.recv().await {
        let Ok(msg) = Message::parse(&req.data) else {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if !msg.is_request() || msg.method() == Some(&Method::Ack) {
            continue;
        }
        let Some(call_id) = msg.call_id() else {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (tag, first) = {
            let mut memory = lock(&memory);
            let tagged = memory.tag(call_id, Instant::now());
            stats
                .remembered
                .store(memory.ids.len() as u64, Ordering::Relaxed);
            tagged
        };
        let spec = ResponseSpec {
            to_tag: Some(&tag),
            headers: vec![("Retry-After", "5".to_string())],
            ..ResponseSpec::new(503)
        };
        let bytes = response(&msg, &req.flow, &spec, &user_agent);
        let to = response_flow(&msg, &req.flow);
        match &req.reply {
            Reply::Udp(sock) => {
                let v6 = sock.local_addr().is_ok_and(|a| a.is_ipv6());
                let _ = sock.try_send_to(&bytes, super::sip_io::for_socket(to.remote, v6));
            }
            Reply::Tcp(w) => {
                let _ = w.send(bytes);
            }
        }
        stats.answered_503.fetch_add(1, Ordering::Relaxed);
        if first && why.recorded() && msg.method() == Some(&Method::Invite) {
            let _ = records.send(shed_record(&msg, call_id));
        }
        counts[why as usize] += 1;
        stats.by_reason[why as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(n) = stats.shed_log.hit() {
            tracing::warn!(
                answered = n,
                total = stats.shed_log.total(),
                lane_full = counts[Shed::Full as usize],
                waited_too_long = counts[Shed::Late as usize],
                retransmitted = counts[Shed::Again as usize],
                stopping = counts[Shed::Stopping as usize],
                over_source_rate = counts[Shed::SourceRate as usize],
                "overload: new requests answered 503 without reaching the core"
            );
            counts = [0; Shed::COUNT];
        }
    }
}

fn lock(m: &Mutex<RecentCalls>) -> std::sync::MutexGuard<'_, RecentCalls> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn shed_record(msg: &Message, call_id: &str) -> CallRecord {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let number = msg
        .request_uri()
        .and_then(uri_user)
        .or_else(|| msg.header("To").and_then(|t| uri_user(name_addr_uri(t))))
        .unwrap_or_default();
    CallRecord {
        id: 0,
        sip_call_id: call_id.to_string(),
        started_at: now.clone(),
        answered_at: None,
        ended_at: now,
        caller: msg.header("From").unwrap_or("").to_string(),
        number,
        schedule: None,
        digits: String::new(),
        service: None,
        hangup_cause: "shed-503".into(),
        hangup_side: HangupSide::Ura,
        queue: None,
        media_warning: None,
    }
}

/// Which lane a message goes to, read from its head without a full parse.
#[derive(Debug, PartialEq, Eq)]
pub enum Lane<'a> {
    /// About a call ura has (or a response).
    High,
    /// A new request (INVITE or anything else outside a dialog).
    New {
        /// Its Call-ID, when found.
        call_id: Option<&'a str>,
    },
}

/// Sorts a message: responses, ACK, CANCEL and requests with a To tag go
/// to the high lane; the rest (new INVITEs, OPTIONS, unparsable text) to
/// the new lane, where they may be shed.
pub fn classify(data: &[u8]) -> Lane<'_> {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    let Ok(head) = std::str::from_utf8(&data[..end]) else {
        return Lane::New { call_id: None };
    };
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("").trim_start();
    if first.starts_with("SIP/") {
        return Lane::High;
    }
    let method = first.split(' ').next().unwrap_or("");
    if method.eq_ignore_ascii_case("ACK") || method.eq_ignore_ascii_case("CANCEL") {
        return Lane::High;
    }
    let mut call_id = None;
    let mut to_tag = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("to") || name.eq_ignore_ascii_case("t") {
            to_tag = has_tag(value);
        } else if name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i") {
            call_id = Some(value.trim());
        }
    }
    if to_tag {
        Lane::High
    } else {
        Lane::New { call_id }
    }
}

fn has_tag(to: &str) -> bool {
    let params = match to.rfind('>') {
        Some(i) => &to[i..],
        None => to,
    };
    params.split(';').skip(1).any(|p| {
        p.split('=')
            .next()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("tag"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_by_head() {
        let invite = b"INVITE sip:9100@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:9100@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(
            classify(invite),
            Lane::New {
                call_id: Some("abc")
            }
        );
        let reinvite =
            b"INVITE sip:9100@h SIP/2.0\r\nt: <sip:9100@h;tag=x>;tag=9\r\ni: abc\r\n\r\n";
        assert_eq!(classify(reinvite), Lane::High);
        // A ";tag=" inside the URI is not the header's tag.
        let tricky = b"INVITE sip:9100@h SIP/2.0\r\nTo: <sip:9100@h;tag=x>\r\n\r\n";
        assert_eq!(classify(tricky), Lane::New { call_id: None });
        assert_eq!(
            classify(b"SIP/2.0 200 OK\r\nTo: <sip:a@h>\r\n\r\n"),
            Lane::High
        );
        assert_eq!(
            classify(b"ACK sip:9100@h SIP/2.0\r\nTo: <sip:a@h>\r\n\r\n"),
            Lane::High
        );
        assert_eq!(
            classify(b"CANCEL sip:9100@h SIP/2.0\r\nTo: <sip:a@h>\r\n\r\n"),
            Lane::High
        );
        assert_eq!(
            classify(b"BYE sip:9100@h SIP/2.0\r\nTo: <sip:a@h>;tag=2\r\n\r\n"),
            Lane::High
        );
        assert_eq!(
            classify(b"OPTIONS sip:h SIP/2.0\r\nTo: <sip:h>\r\n\r\n"),
            Lane::New { call_id: None }
        );
        assert_eq!(classify(b"\xff\xfe"), Lane::New { call_id: None });
    }

    #[test]
    fn shed_call_ids_expire() {
        let mut m = RecentCalls::default();
        let t0 = Instant::now();
        m.mark("a", t0);
        let (tag, first) = m.tag("a", t0);
        assert!(first, "the record is written once");
        assert_eq!(m.tag("a", t0), (tag, false));
        assert!(m.contains("a", t0 + Duration::from_secs(1)));
        assert!(!m.contains("a", t0 + SHED_MEMORY));
    }
}
