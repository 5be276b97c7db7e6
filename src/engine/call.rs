//! Calls: what the engine keeps per call, and how SIP and media events move
//! a call along (SDP negotiation, media stream, the demo app, the IVR, and
//! agent queues in `legs`).

mod attach;
mod chat;
mod leave;
mod legs;
mod supervise;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::prompt_set::PromptSet;
use ura_media::{
    Codec, Direction as MediaDirection, MediaEngine, MediaEvent, PlayId, PlayMode, Reach, StreamId,
    StreamParams,
};
use ura_prompts::BuiltinPrompts;
use ura_sip::sdp::{
    self, AudioCodec, Direction, LocalMedia, Negotiated, SdpError, SessionDescription,
};
use ura_sip::{DialogId, EndReason, Endpoint, Event, IncomingCall};
use ura_store::{CallRecord, HangupSide};

use super::admission::Admission;
use super::inputs::Lanes;
use super::ivr_call::{Drive, IvrCall, Player, HANGUP_GRACE};
use super::queues::{AgentCommand, Queues};
use super::records::RecordSender;
use super::{CoreInput, Counters, StreamIndex};
use crate::config::Config;
use crate::demo::{Action, DemoApp, DemoNumber};
use crate::recorder::{RecAction, Recorder, MAX_RECORDING};
use crate::routing::Routing;
use serde_json::json;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use ura_router::{OfferId, TaskId};
use ura_webhooks::{EventSink, EventType, Subject};

/// What runs a call: a built-in demo app, an IVR, recording by phone, or
/// an agent's feature code.
enum App {
    Demo(DemoApp),
    Ivr(Box<IvrCall>),
    Recorder(Box<RecCall>),
    Feature(FeatureCall),
    Internal(InternalCall),
}

/// An agent dialled another agent's extension.
struct InternalCall {
    /// The calling agent.
    from: String,
    /// The extension dialled.
    target: String,
    /// The call to the extension's phone.
    leg: Option<DialogId>,
    /// The "not available" notice, after which ura hangs up.
    closing: Option<PlayId>,
    /// Stop ringing the extension then.
    ring_until: Option<Instant>,
}

/// How long an ended call's record waits for its stream's statistics.
const CLOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long an extension rings on an internal call.
const INTERNAL_RING: std::time::Duration = std::time::Duration::from_secs(30);

/// An agent's feature code (`*40` log in …): say what was done, hang up.
struct FeatureCall {
    /// The built-in prompt that says it.
    prompt: &'static str,
    /// That prompt, playing.
    play: Option<PlayId>,
}

/// A call recording a prompt by phone.
struct RecCall {
    rec: Recorder,
    /// What was recorded, once the media side gave it.
    pcm: Option<Vec<i16>>,
    /// The last clip of what plays now.
    last_play: Option<PlayId>,
}

/// One call.
struct Call {
    stream: StreamId,
    local: LocalMedia,
    /// Our offer, when the INVITE had none (the answer comes in the ACK).
    our_offer: Option<SessionDescription>,
    /// The answer SDP (or offer) that goes in the 200.
    sdp_body: Vec<u8>,
    negotiated: Option<Negotiated>,
    /// The peer's SDP address cannot be reached: media goes where its RTP
    /// comes from.
    latch_only: bool,
    app: App,
    /// A hang-up waiting for the last frames to reach the caller.
    hangup_at: Option<Instant>,
    number: String,
    from: String,
    created: Instant,
    answered: Option<Instant>,
    up: bool,
    /// For the call record.
    record: CallRecord,
    /// In an agent queue, or bridged to an agent from one.
    waiting: Option<legs::Waiting>,
    /// Left the queue with its exit key.
    leaving: Option<leave::Leaving>,
}

/// All calls of the engine.
pub struct Calls {
    media: MediaEngine,
    prompts: PromptSet,
    config: Config,
    inputs: Lanes,
    counters: Arc<Counters>,
    calls: HashMap<DialogId, Call>,
    streams: StreamIndex,
    next_play: u64,
    records: RecordSender,
    /// Webhook events (built only when a webhook wants them).
    events: EventSink,
    /// The call limit in force and why a call is refused.
    admission: Admission,
    routing: Routing,
    /// Records of ended calls whose stream was started, waiting for its
    /// statistics (`MediaEvent::Closed`) to say whether the caller heard
    /// anything; written then, or at the deadline in `closing_order`.
    closing: HashMap<StreamId, CallRecord>,
    /// (deadline, stream) of `closing`, in order.
    closing_order: std::collections::VecDeque<(Instant, StreamId)>,
    /// Per-call deadlines (IVR timers, stub queue, delayed hang-ups); stale
    /// entries are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, DialogId)>>,
    /// The router and its names.
    queues: Queues,
    /// Calls to agents' phones, by their dialog.
    legs: HashMap<DialogId, legs::AgentLeg>,
    /// Callers in queues, by task.
    tasks: HashMap<TaskId, DialogId>,
    /// Agent legs ringing, by offer.
    offers: HashMap<OfferId, DialogId>,
    /// Agents on internal calls (how many), kept from queue calls meanwhile.
    internal_busy: HashMap<String, u32>,
    /// Text conversations and the sockets that follow them.
    chats: super::chats::Chats,
    /// Where ended conversations go to be written.
    chat_records: Option<tokio::sync::mpsc::Sender<crate::engine::chats::ChatWrite>>,
    mailer: Option<tokio::sync::mpsc::Sender<crate::engine::transcripts::TranscriptMail>>,
}

/// Now, as the RFC 3339 UTC text call records hold.
fn wall_clock() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A call record for a new call, filled in as it goes.
fn new_record(call: &IncomingCall, number: &str) -> CallRecord {
    CallRecord {
        id: 0,
        sip_call_id: call.call_id.clone(),
        started_at: wall_clock(),
        answered_at: None,
        ended_at: String::new(),
        caller: call.from.clone(),
        number: number.to_string(),
        schedule: None,
        digits: String::new(),
        service: None,
        hangup_cause: String::new(),
        hangup_side: HangupSide::Ura,
        queue: None,
        media_warning: None,
    }
}

fn media_codec(c: AudioCodec) -> Codec {
    match c {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
    }
}

fn media_direction(d: Direction) -> MediaDirection {
    match d {
        Direction::SendRecv => MediaDirection::SendRecv,
        Direction::SendOnly => MediaDirection::SendOnly,
        Direction::RecvOnly => MediaDirection::RecvOnly,
        Direction::Inactive => MediaDirection::Inactive,
    }
}

/// The media parameters of a negotiation; `latch_only` when the peer's
/// SDP address cannot be reached (see [`Calls::unreachable`]).
fn stream_params(n: &Negotiated, latch_only: bool) -> StreamParams {
    StreamParams {
        remote_rtp: n.remote_rtp,
        remote_rtcp: n.remote_rtcp,
        codec: media_codec(n.codec),
        payload_type: n.payload_type,
        telephone_event_pt: n.telephone_event_pt,
        direction: media_direction(n.local_direction),
        latch_only,
    }
}

impl Calls {
    /// The live counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// An empty set of calls.
    pub fn new(
        media: MediaEngine,
        prompts: Arc<BuiltinPrompts>,
        config: Config,
        inputs: Lanes,
        counters: Arc<Counters>,
        records: RecordSender,
        admission: Admission,
    ) -> Calls {
        // The webhook events go where the records' events go (nowhere
        // when nobody listens).
        let events = records
            .events()
            .unwrap_or_else(|| ura_webhooks::channel(1).0);
        let config_routing = config.routing.clone();
        let mut queues = Queues::new(fastrand::u64(..));
        queues.apply(Instant::now(), &config_routing);
        Calls {
            media,
            prompts: PromptSet::new(prompts),
            config,
            inputs,
            counters,
            calls: HashMap::new(),
            streams: StreamIndex::new(),
            next_play: 1,
            records,
            admission,
            events,
            routing: Routing::build(&config_routing).unwrap_or_else(|e| {
                tracing::error!(error = %e, "routing refused; no IVR numbers");
                Routing::default()
            }),
            timers: BinaryHeap::new(),
            closing: HashMap::new(),
            closing_order: std::collections::VecDeque::new(),
            queues,
            legs: HashMap::new(),
            tasks: HashMap::new(),
            offers: HashMap::new(),
            internal_busy: HashMap::new(),
            chats: Default::default(),
            chat_records: None,
            mailer: None,
        }
    }

    /// Reacts to a SIP event.
    pub fn on_sip(&mut self, now: Instant, ep: &mut Endpoint, event: Event) {
        let Some(event) = self.leg_event(now, ep, event) else {
            return;
        };
        match event {
            Event::IncomingCall(call) => self.incoming(now, ep, call),
            Event::Confirmed { dialog, body } => self.confirmed(now, ep, dialog, body),
            Event::ReOffer { dialog, body } => self.reoffer(now, ep, dialog, body),
            Event::InfoDigit { dialog, digit } => self.digit(now, dialog, digit),
            Event::Ended { dialog, reason } => self.ended(now, ep, dialog, reason),
            Event::Registered {
                user,
                contact,
                flow,
                ..
            } => {
                tracing::info!(%user, %contact, remote = %flow.remote, "agent registered");
                self.reachability(now, ep, &user)
            }
            Event::Unregistered {
                user,
                contact,
                reason,
            } => {
                tracing::info!(%user, %contact, ?reason, "agent unregistered");
                self.reachability(now, ep, &user)
            }
            Event::AuthLockout {
                scope,
                source,
                user,
                failures,
                ..
            } => tracing::warn!(%source, ?user, ?scope, failures, "SIP authentication lockout"),
            // Outgoing calls that are not agent legs: none are placed.
            Event::Progress { .. } | Event::Answered { .. } | Event::CallFailed { .. } => {}
            // A REFER from a caller (not an agent leg): not offered.
            Event::Refer { dialog, .. } => {
                let _ = ep.notify_refer(now, dialog, 603, "Declined", true);
            }
        }
    }

    /// The IP written in our SDP toward a peer whose media address is
    /// `remote` (None before it is known, as in our own offer), reached by
    /// SIP from `signalling`; `uri_host` is the Request-URI host, an
    /// address of ours when it is an IP literal.
    ///
    /// The family is `remote`'s when the media streams reach it (an IPv6
    /// offer gets an IPv6 answer), else `signalling`'s, else the RTP bind
    /// address's. The address of that family is, in order: the Request-URI
    /// host, `--advertise`, the RTP bind address, the address the system
    /// sends from toward the peer (streams bound to `[::]`/`0.0.0.0`), the
    /// configured default (loopback).
    pub(crate) fn media_ip(
        &self,
        uri_host: Option<&str>,
        signalling: IpAddr,
        remote: Option<IpAddr>,
    ) -> IpAddr {
        let source = |ip: IpAddr| match self.media.reach(ip) {
            Reach::Route { source } => Some(source),
            Reach::Unreachable(_) => None,
        };
        let remote = remote
            .map(|r| r.to_canonical())
            .filter(|r| !r.is_unspecified());
        let bind = self.media.bind_ip();
        let toward = remote
            .and_then(|r| source(r).map(|s| (r.is_ipv6(), s)))
            .or_else(|| {
                let s = signalling.to_canonical();
                source(s).map(|source| (s.is_ipv6(), source))
            });
        let v6 = toward.map_or(bind.is_ipv6() && !bind.is_unspecified(), |(v6, _)| v6);
        let ours = |ip: &IpAddr| ip.is_ipv6() == v6 && !ip.is_unspecified() && !ip.is_multicast();
        uri_host
            .and_then(|h| h.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .filter(ours)
            .or(self.config.advertise_given.of(v6))
            .or(Some(bind).filter(ours))
            .or(toward.map(|(_, s)| s).filter(ours))
            .or([Some(self.config.advertise), self.config.advertise_other]
                .into_iter()
                .flatten()
                .find(ours))
            .unwrap_or(match v6 {
                true => std::net::Ipv6Addr::LOCALHOST.into(),
                false => std::net::Ipv4Addr::LOCALHOST.into(),
            })
    }

    /// Whether the media streams cannot send to `remote` (the peer's SDP
    /// address of `dialog`); when they cannot, logs why (once per
    /// negotiation). The `0.0.0.0` of hold sends nothing anyway: false.
    /// A stream told `latch_only` sends to where the peer's RTP comes from.
    pub(crate) fn unreachable(
        media: &MediaEngine,
        dialog: DialogId,
        remote: std::net::SocketAddr,
    ) -> bool {
        if remote.ip().is_unspecified() {
            return false;
        }
        match media.reach(remote.ip()) {
            Reach::Route { .. } => false,
            Reach::Unreachable(why) => {
                tracing::warn!(
                    %dialog,
                    sdp_address = %remote,
                    "the SDP address is not used: {why}; RTP goes to where the peer's RTP comes from once it arrives"
                );
                true
            }
        }
    }

    /// Refuses a new call and records it.
    fn refuse(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        call: &IncomingCall,
        number: &str,
        code: u16,
    ) {
        let _ = ep.reject(now, call.dialog, code);
        let mut record = new_record(call, number);
        record.ended_at = record.started_at.clone();
        record.hangup_cause = format!("refused-{code}");
        let _ = self.records.send(record);
    }

    /// Hangs up from our side, saying why in the call record.
    fn hangup(&mut self, now: Instant, ep: &mut Endpoint, dialog: DialogId, cause: &str) {
        if let Some(call) = self.calls.get_mut(&dialog) {
            if call.record.hangup_cause.is_empty() {
                call.record.hangup_cause = cause.to_string();
            }
        }
        let _ = ep.hangup(now, dialog);
    }

    fn incoming(&mut self, now: Instant, ep: &mut Endpoint, call: IncomingCall) {
        let dialog = call.dialog;
        let number = call
            .request_user
            .clone()
            .or(call.to_user.clone())
            .unwrap_or_default();
        let to_user = call.to_user.clone().unwrap_or_default();
        let app = if let Some(cmd) = AgentCommand::from_feature_code(&number) {
            let prompt = match call.authenticated_user.as_deref() {
                Some(ext) => match self.agent_command(now, ext, &cmd) {
                    Ok(()) => {
                        tracing::info!(%dialog, agent = %ext, ?cmd, "agent feature code");
                        cmd.prompt()
                    }
                    Err(e) => {
                        tracing::info!(%dialog, agent = %ext, ?cmd, error = %e, "agent feature code refused");
                        "ivr-invalid"
                    }
                },
                None => {
                    tracing::info!(%dialog, from = %call.from, "feature code from a phone that is not an agent's");
                    "agent-not-agent"
                }
            };
            App::Feature(FeatureCall { prompt, play: None })
        } else if let Some(from) = call
            .authenticated_user
            .clone()
            .filter(|from| *from != number && self.queues.agent(&number).is_some())
        {
            tracing::info!(%dialog, %from, extension = %number, "internal call");
            App::Internal(InternalCall {
                from,
                target: number.clone(),
                leg: None,
                closing: None,
                ring_until: None,
            })
        } else if let Some(n) = self
            .routing
            .lookup(&number)
            .or_else(|| self.routing.lookup(&to_user))
        {
            App::Ivr(Box::new(IvrCall::new(n)))
        } else if let Some(pin) = self
            .config
            .recording_pin
            .as_deref()
            .filter(|_| number == self.config.recording_code)
        {
            App::Recorder(Box::new(RecCall {
                rec: Recorder::new(pin),
                pcm: None,
                last_play: None,
            }))
        } else if let Some(demo) = DemoNumber::lookup(&number) {
            App::Demo(DemoApp::new(demo))
        } else {
            if number == self.config.recording_code {
                tracing::info!(%dialog, %number, "recording by phone is off: start ura with --recording-pin PIN; 404");
            } else {
                tracing::info!(%dialog, %number, from = %call.from, "unknown number: 404");
            }
            self.refuse(now, ep, &call, &number, 404);
            return;
        };
        if let Err(cause) = self.admission.check(
            self.calls.len(),
            self.calls.len() + self.legs.len(),
            self.config.max_calls,
        ) {
            tracing::debug!(%dialog, %number, ?cause, "at the call limit: 503");
            self.admission.refused(cause, self.calls.len());
            self.refuse(now, ep, &call, &number, 503);
            return;
        }
        if !call.body.is_empty() && call.content_type.as_deref() != Some("application/sdp") {
            self.refuse(now, ep, &call, &number, 415);
            return;
        }
        let offer = if call.body.is_empty() {
            None
        } else {
            match SessionDescription::parse(&call.body) {
                Ok(o) => Some(o),
                Err(e) => {
                    tracing::info!(%dialog, error = %e, "bad SDP offer: 400");
                    self.refuse(now, ep, &call, &number, 400);
                    return;
                }
            }
        };
        let (stream, local_rtp) = match self.media.allocate() {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(%dialog, error = %e, "no RTP port: 503");
                let cause = self.admission.allocation_failed();
                self.admission.refused(cause, self.calls.len());
                self.refuse(now, ep, &call, &number, 503);
                return;
            }
        };
        // Our address follows the peer's media address (its family): the
        // answer is made once to learn it, then again with it.
        let host = call.request_host.clone();
        let source = call.source.remote.ip();
        let mut local = LocalMedia::new(self.config.advertise, local_rtp.port());
        local.session_id = fastrand::u64(1..u64::MAX / 2);
        local.session_version = 1;
        let (sdp_body, negotiated, our_offer) = match &offer {
            Some(offer) => match sdp::answer(offer, &local).and_then(|(_, n)| {
                local.address = self.media_ip(host.as_deref(), source, Some(n.remote_rtp.ip()));
                sdp::answer(offer, &local)
            }) {
                Ok((answer, negotiated)) => {
                    (answer.to_string().into_bytes(), Some(negotiated), None)
                }
                Err(e) => {
                    let code = match e {
                        SdpError::NoCommonCodec
                        | SdpError::UnsupportedTransport
                        | SdpError::NoAudio
                        | SdpError::NoConnectionAddress => 488,
                        _ => 400,
                    };
                    tracing::info!(%dialog, error = %e, code, "offer refused");
                    self.media.close(stream);
                    self.refuse(now, ep, &call, &number, code);
                    return;
                }
            },
            None => {
                local.address = self.media_ip(host.as_deref(), source, None);
                let o = sdp::offer(&local, Direction::SendRecv);
                (o.to_string().into_bytes(), None, Some(o))
            }
        };
        tracing::info!(%dialog, %number, from = %call.from, source = %call.source.remote, "incoming call");
        self.streams.insert(stream, dialog);
        let record = new_record(&call, &number);
        self.events.emit(
            EventType::CallStarted,
            Subject::Number(number.clone()),
            || {
                json!({
                    "sip_call_id": record.sip_call_id,
                    "caller": record.caller,
                    "number": record.number,
                    "started_at": record.started_at,
                })
            },
        );
        self.calls.insert(
            dialog,
            Call {
                stream,
                local,
                our_offer,
                sdp_body,
                negotiated,
                latch_only: false,
                app,
                hangup_at: None,
                number,
                from: call.from,
                created: now,
                answered: None,
                up: false,
                record,
                waiting: None,
                leaving: None,
            },
        );
        if self.config.ring.is_zero() {
            self.answer(now, ep, dialog);
        } else {
            let _ = ep.ring(now, dialog);
            let inputs = self.inputs.clone();
            let ring = self.config.ring;
            tokio::spawn(async move {
                tokio::time::sleep(ring).await;
                let _ = inputs.send(CoreInput::AnswerDue(dialog));
            });
        }
    }

    /// Sends the 200 OK of a call that is still ringing.
    pub fn answer(&mut self, now: Instant, ep: &mut Endpoint, dialog: DialogId) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return; // cancelled while ringing
        };
        if ep.answer(now, dialog, &call.sdp_body).is_ok() {
            call.answered = Some(now);
            call.record.answered_at = Some(wall_clock());
            // The record exists from the answer on: a crash (kill -9) leaves
            // it `in-progress`, marked `interrupted` at the next start.
            let mut open = call.record.clone();
            open.hangup_cause = ura_store::IN_PROGRESS.into();
            open.ended_at = open.answered_at.clone().unwrap_or_default();
            let _ = self.records.send(open);
            self.counters.answered_calls.fetch_add(1, Ordering::Relaxed);
            self.counters.active_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn confirmed(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        dialog: DialogId,
        body: Option<Vec<u8>>,
    ) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        if let Some(offer) = &call.our_offer {
            // Late offer: the answer is in the ACK.
            let negotiated = match body.as_deref() {
                None => Err("no SDP answer in the ACK".to_string()),
                Some(b) => SessionDescription::parse(b)
                    .and_then(|answer| sdp::accept_answer(offer, &answer))
                    .map_err(|e| e.to_string()),
            };
            match negotiated {
                Ok(n) => call.negotiated = Some(n),
                Err(e) => {
                    tracing::info!(%dialog, error = %e, "no usable answer in the ACK: hanging up");
                    self.hangup(now, ep, dialog, "bad-sdp-answer");
                    return;
                }
            }
        }
        let Some(n) = call.negotiated else { return };
        let stream = call.stream;
        let latch_only = Calls::unreachable(&self.media, dialog, n.remote_rtp);
        self.media
            .start_stream(stream, stream_params(&n, latch_only));
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        call.up = true;
        call.latch_only = latch_only;
        tracing::info!(%dialog, codec = ?n.codec, remote = %n.remote_rtp, "call is up");
        match &mut call.app {
            App::Demo(app) => {
                let actions = app.started();
                self.run(now, dialog, actions);
            }
            App::Ivr(_) => {
                self.drive_ivr(dialog, |ivr, player, record| ivr.start(now, player, record))
            }
            App::Recorder(r) => {
                r.rec.started(now);
                self.drive_recorder(now, dialog);
            }
            App::Internal(i) => {
                let target = i.target.clone();
                i.ring_until = Some(now + INTERNAL_RING);
                if let Some(ring) = self.prompts.get("ringback").cloned() {
                    let play = PlayId(self.next_play);
                    self.next_play += 1;
                    self.media
                        .play(call.stream, play, ring, PlayMode::Replace, true);
                }
                self.ring_extension(now, ep, dialog, &target);
            }
            App::Feature(f) => {
                let lang = ura_prompts::BuiltinLanguage::PtBr;
                match self.prompts.get_in(lang, f.prompt).cloned() {
                    Some(clip) => {
                        let play = PlayId(self.next_play);
                        self.next_play += 1;
                        self.media
                            .play(call.stream, play, clip, PlayMode::Replace, false);
                        f.play = Some(play);
                    }
                    None => {
                        call.hangup_at = Some(now + HANGUP_GRACE);
                        self.schedule(dialog);
                    }
                }
            }
        }
    }

    /// Carries out what the recorder asks, then re-arms the call's timer.
    fn drive_recorder(&mut self, now: Instant, dialog: DialogId) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        let App::Recorder(r) = &mut call.app else {
            return;
        };
        while let Some(action) = r.rec.poll_action() {
            let mut player = Player {
                media: &self.media,
                prompts: &self.prompts,
                next_play: &mut self.next_play,
                stream: call.stream,
            };
            match action {
                RecAction::Play(names) => {
                    let clips: Vec<_> = names
                        .iter()
                        .filter_map(|n| self.prompts.get(n).cloned())
                        .collect();
                    r.last_play = player.play(&clips, false);
                }
                RecAction::PlayRecording => {
                    let frames = ura_media::PromptFrames::from_pcm(r.pcm.as_deref().unwrap_or(&[]));
                    r.last_play = player.play(&[frames], false);
                    if r.last_play.is_none() {
                        r.rec.play_finished(now);
                    }
                }
                RecAction::StopPlay => self.media.stop_play(call.stream),
                RecAction::Record => self.media.record(call.stream, MAX_RECORDING),
                RecAction::StopRecord => self.media.stop_record(call.stream),
                RecAction::Save { name } => {
                    let pcm = r.pcm.clone().unwrap_or_default();
                    tracing::info!(%dialog, %name, seconds = pcm.len() as f32 / 8000.0, "saving a recorded prompt");
                    let _ = self.inputs.send(CoreInput::SavePrompt { name, pcm });
                }
                RecAction::Hangup => call.hangup_at = Some(now + HANGUP_GRACE),
            }
        }
        self.schedule(dialog);
    }

    /// Adds a saved prompt: calls play it from now on.
    pub fn prompt_saved(&mut self, name: String, frames: ura_media::PromptFrames) {
        self.prompts.insert(name, frames);
    }

    /// New calls follow `config` (its `routing`) and play `prompts` from
    /// now on. Calls in progress hold their number and IVR (`Arc`s) and
    /// finish as they began.
    pub fn reload(
        &mut self,
        config: Config,
        routing: Routing,
        prompts: Vec<(String, ura_media::PromptFrames)>,
    ) {
        self.routing = routing;
        for (name, frames) in prompts {
            self.prompts.insert(name, frames);
        }
        self.queues.apply(Instant::now(), &config.routing);
        self.config = config;
    }

    /// Runs `f` on a call's IVR with what it needs to play, then applies
    /// what it asks for and re-arms the call's timer.
    fn drive_ivr(
        &mut self,
        dialog: DialogId,
        f: impl FnOnce(&mut IvrCall, &mut Player<'_>, &mut CallRecord) -> Drive,
    ) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        let App::Ivr(ivr) = &mut call.app else { return };
        let mut player = Player {
            media: &self.media,
            prompts: &self.prompts,
            next_play: &mut self.next_play,
            stream: call.stream,
        };
        let chosen = call.record.service.clone();
        let drive = f(ivr, &mut player, &mut call.record);
        if call.record.service != chosen {
            let r = &call.record;
            self.events.emit(
                EventType::IvrOptionSelected,
                Subject::Number(r.number.clone()),
                || {
                    json!({
                        "sip_call_id": r.sip_call_id,
                        "number": r.number,
                        "service": r.service,
                        "digits": r.digits,
                    })
                },
            );
        }
        if drive.hangup_at.is_some() {
            call.hangup_at = drive.hangup_at;
        }
        self.schedule(dialog);
        if let Some(service) = drive.enqueue {
            self.enqueue(Instant::now(), dialog, service);
        }
    }

    /// Queues the call's next deadline.
    fn schedule(&mut self, dialog: DialogId) {
        let Some(call) = self.calls.get(&dialog) else {
            return;
        };
        let ivr = match &call.app {
            App::Ivr(ivr) => ivr.poll_timeout(),
            App::Recorder(r) => r.rec.poll_timeout(),
            App::Internal(i) => i.ring_until,
            App::Demo(_) | App::Feature(_) => None,
        };
        let periodic = call.waiting.as_ref().and_then(|w| w.periodic_at);
        if let Some(t) = [call.hangup_at, ivr, periodic].into_iter().flatten().min() {
            self.timers.push(Reverse((t, dialog)));
        }
    }

    /// The earliest per-call deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.timers.peek().map(|Reverse((t, _))| *t);
        let closing = self.closing_order.front().map(|(t, _)| *t);
        [
            calls,
            closing,
            self.queues.router.poll_timeout(),
            self.chats.sweep_at,
            self.chats.openings.first().map(|(t, _)| *t),
            self.chats.live.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the per-call deadlines due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        self.queues.router.handle_timeout(now);
        self.chat_sweep(now);
        self.chat_openings(now);
        self.live_push(now);
        while let Some(&(t, stream)) = self.closing_order.front() {
            if t > now {
                break;
            }
            self.closing_order.pop_front();
            // No statistics in time (the media lane was full): as it is.
            if let Some(record) = self.closing.remove(&stream) {
                let _ = self.records.send(record);
            }
        }
        while let Some(Reverse((t, dialog))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(call) = self.calls.get_mut(&dialog) else {
                continue;
            };
            if call.hangup_at.is_some_and(|h| h <= now) {
                call.hangup_at = None;
                self.hangup(now, ep, dialog, "app-hangup");
                continue;
            }
            if self.periodic_due(dialog).is_some_and(|t| t <= now) {
                self.periodic(now, dialog);
            }
            let Some(call) = self.calls.get_mut(&dialog) else {
                continue;
            };
            match &mut call.app {
                App::Ivr(ivr) if ivr.poll_timeout().is_some_and(|d| d <= now) => {
                    self.drive_ivr(dialog, |ivr, player, record| {
                        ivr.handle_timeout(now, player, record)
                    });
                }
                App::Recorder(r) if r.rec.poll_timeout().is_some_and(|d| d <= now) => {
                    r.rec.handle_timeout(now);
                    self.drive_recorder(now, dialog);
                }
                App::Internal(i) if i.ring_until.is_some_and(|d| d <= now) => {
                    // Still ringing: give up (the leg's end tells the caller).
                    i.ring_until = None;
                    if let Some(leg) = i.leg {
                        if !self.leg_bridged(leg) {
                            let _ = ep.hangup(now, leg);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn reoffer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        dialog: DialogId,
        body: Option<Vec<u8>>,
    ) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            let _ = ep.reject_reoffer(now, dialog, 481);
            return;
        };
        call.local.session_version += 1;
        let Some(body) = body else {
            // No offer in the re-INVITE: offer what we have, keep media as it is.
            let o = sdp::offer(&call.local, Direction::SendRecv);
            let _ = ep.accept_reoffer(now, dialog, o.to_string().as_bytes());
            return;
        };
        match SessionDescription::parse(&body).and_then(|o| sdp::answer(&o, &call.local)) {
            Ok((answer, n)) => {
                tracing::info!(%dialog, direction = ?n.local_direction, "re-INVITE");
                let moved = call
                    .negotiated
                    .is_none_or(|old| old.remote_rtp != n.remote_rtp);
                let (up, stream, was) = (call.up, call.stream, call.latch_only);
                let latch_only = match moved {
                    true => Calls::unreachable(&self.media, dialog, n.remote_rtp),
                    false => was,
                };
                if up {
                    self.media.update(stream, stream_params(&n, latch_only));
                }
                let Some(call) = self.calls.get_mut(&dialog) else {
                    return;
                };
                call.latch_only = latch_only;
                call.negotiated = Some(n);
                let _ = ep.accept_reoffer(now, dialog, answer.to_string().as_bytes());
            }
            Err(e) => {
                tracing::info!(%dialog, error = %e, "re-INVITE refused: 488");
                call.local.session_version -= 1;
                let _ = ep.reject_reoffer(now, dialog, 488);
            }
        }
    }

    fn digit(&mut self, now: Instant, dialog: DialogId, key: char) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        self.counters.dtmf_digits.fetch_add(1, Ordering::Relaxed);
        if call.waiting.as_ref().is_some_and(|w| w.leg.is_some()) {
            // Bridged: the digit was relayed to the agent.
            return;
        }
        if self.leave_key(now, dialog, key) {
            return;
        }
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        tracing::info!(%dialog, digit = %key, "DTMF");
        call.record.digits.push(key);
        match &mut call.app {
            App::Demo(app) => {
                let actions = app.digit(key);
                self.run(now, dialog, actions);
            }
            App::Ivr(_) => self.drive_ivr(dialog, |ivr, player, record| {
                ivr.digit(now, key, player, record)
            }),
            App::Recorder(r) => {
                r.rec.digit(now, key);
                self.drive_recorder(now, dialog);
            }
            App::Feature(_) | App::Internal(_) => {}
        }
    }

    fn run(&mut self, now: Instant, dialog: DialogId, actions: Vec<Action>) {
        for action in actions {
            let Some(call) = self.calls.get(&dialog) else {
                return;
            };
            match action {
                Action::Play {
                    prompt,
                    barge,
                    looped,
                } => {
                    let Some(frames) = self.prompts.get(&prompt).cloned() else {
                        tracing::warn!(%prompt, "no such built-in prompt");
                        continue;
                    };
                    let play = PlayId(self.next_play);
                    self.next_play += 1;
                    let mode = if barge {
                        PlayMode::Replace
                    } else {
                        PlayMode::Append
                    };
                    self.media.play(call.stream, play, frames, mode, looped);
                }
                Action::Hangup => {
                    // After the last frames had time to play out.
                    if let Some(call) = self.calls.get_mut(&dialog) {
                        call.hangup_at = Some(now + HANGUP_GRACE);
                    }
                    self.schedule(dialog);
                }
            }
        }
    }

    fn ended(&mut self, now: Instant, ep: &mut Endpoint, dialog: DialogId, reason: EndReason) {
        let Some(mut call) = self.calls.remove(&dialog) else {
            return;
        };
        self.caller_ended(now, ep, &mut call);
        let record = &mut call.record;
        record.ended_at = wall_clock();
        let (cause, side) = match reason {
            EndReason::RemoteBye => ("caller-bye", HangupSide::Caller),
            EndReason::Cancelled => ("cancelled", HangupSide::Caller),
            EndReason::NoAck => ("no-ack", HangupSide::Ura),
            EndReason::LocalHangup => ("ura-bye", HangupSide::Ura),
        };
        if record.hangup_cause.is_empty() || side == HangupSide::Caller {
            record.hangup_cause = cause.to_string();
        }
        record.hangup_side = Calls::hangup_side(&record.hangup_cause, side);
        if call.up {
            // Written when the stream's statistics arrive (at most
            // CLOSING_WAIT from now).
            self.closing.insert(call.stream, call.record.clone());
            self.closing_order
                .push_back((now + CLOSING_WAIT, call.stream));
        } else {
            let _ = self.records.send(call.record.clone());
        }
        if call.answered.is_some() {
            self.counters.active_calls.fetch_sub(1, Ordering::Relaxed);
        }
        // Statistics are logged when the media side reports the stream closed.
        self.media.close(call.stream);
        tracing::info!(
            %dialog,
            number = %call.number,
            from = %call.from,
            ?reason,
            seconds = now.duration_since(call.created).as_secs_f32(),
            "call ended"
        );
    }

    /// Reacts to a media event.
    pub fn on_media(&mut self, now: Instant, ep: &mut Endpoint, event: MediaEvent) {
        match event {
            MediaEvent::Digit {
                stream,
                digit,
                source,
            } => {
                if let Some(&dialog) = self.streams.get(&stream) {
                    tracing::debug!(%dialog, ?source, "digit from media");
                    self.digit(now, dialog, digit.to_char());
                }
            }
            MediaEvent::PlayFinished { stream, play } => {
                let Some(&dialog) = self.streams.get(&stream) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&dialog) else {
                    return;
                };
                match &mut call.app {
                    App::Demo(app) => {
                        let actions = app.play_finished();
                        self.run(now, dialog, actions);
                    }
                    App::Ivr(_) => {
                        if !self.leave_play_finished(now, dialog, play) {
                            self.drive_ivr(dialog, |ivr, player, record| {
                                ivr.play_finished(now, play, player, record)
                            })
                        }
                    }
                    App::Recorder(r) => {
                        if r.last_play == Some(play) {
                            r.last_play = None;
                            r.rec.play_finished(now);
                            self.drive_recorder(now, dialog);
                        }
                    }
                    App::Feature(f) => {
                        if f.play == Some(play) {
                            call.hangup_at = Some(now + HANGUP_GRACE);
                            self.schedule(dialog);
                        }
                    }
                    App::Internal(i) => {
                        if i.closing == Some(play) {
                            call.hangup_at = Some(now + HANGUP_GRACE);
                            self.schedule(dialog);
                        }
                    }
                }
            }
            MediaEvent::Recorded { stream, pcm } => {
                let Some(&dialog) = self.streams.get(&stream) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&dialog) else {
                    return;
                };
                if call.leaving.is_some() {
                    self.leave_recorded(now, dialog, pcm);
                } else if let App::Recorder(r) = &mut call.app {
                    let n = pcm.len();
                    r.pcm = Some(pcm);
                    r.rec.recorded(now, n);
                    self.drive_recorder(now, dialog);
                }
            }
            MediaEvent::RtpTimeout { stream } => {
                if let Some(leg) = self.leg_of_stream(stream) {
                    self.leg_rtp_timeout(now, ep, leg);
                } else if let Some(&dialog) = self.streams.get(&stream) {
                    tracing::info!(%dialog, "no RTP for {:?}: hanging up", self.config.rtp_timeout);
                    self.hangup(now, ep, dialog, "rtp-timeout");
                }
            }
            MediaEvent::Closed { stream, stats } => {
                let c = &self.counters;
                c.rtp_sent.fetch_add(stats.packets_sent, Ordering::Relaxed);
                c.rtp_received
                    .fetch_add(stats.packets_received, Ordering::Relaxed);
                let mut record = self.closing.remove(&stream);
                if let Some(dialog) = self.streams.remove(&stream) {
                    tracing::info!(%dialog, ?stats, "call media statistics");
                    // Started (answered and acknowledged) yet silent: the
                    // caller heard nothing from us.
                    if !stats.duration.is_zero() && stats.packets_sent == 0 {
                        let why = match (stats.send_failed, stats.remote_rtp) {
                            (0, None) => "its SDP address could not be reached and no RTP came from it to latch to".to_string(),
                            (0, Some(_)) => "nothing was sent (on hold or inactive)".to_string(),
                            (n, _) => format!("{n} sends failed (see the first error above)"),
                        };
                        tracing::warn!(
                            %dialog,
                            packets_received = stats.packets_received,
                            send_failed = stats.send_failed,
                            remote = ?stats.remote_rtp,
                            "answered call ended with packets_sent 0: the caller heard nothing; {why}"
                        );
                        if let Some(r) = &mut record {
                            r.media_warning = Some(format!("packets_sent 0: {why}"));
                        }
                    }
                }
                if let Some(record) = record {
                    let _ = self.records.send(record);
                }
            }
        }
    }

    /// Calls in progress (ringing, answered or up).
    pub fn count(&self) -> usize {
        self.calls.len()
    }

    /// Hangs up every call (on shutdown).
    pub fn hangup_all(&mut self, now: Instant, ep: &mut Endpoint) {
        let dialogs: Vec<DialogId> = self.calls.keys().copied().collect();
        for d in dialogs {
            self.hangup(now, ep, d, "shutdown");
        }
        for leg in self.legs.keys() {
            let _ = ep.hangup(now, *leg);
        }
    }

    /// Records the calls still up (answered calls whose ACK never came end
    /// only when it does, which a stopping ura does not wait for) and stops
    /// the media workers.
    pub fn shutdown(mut self) {
        for (_, record) in self.closing.drain() {
            let _ = self.records.send(record);
        }
        for (_, mut call) in self.calls.drain() {
            call.record.ended_at = wall_clock();
            if call.record.hangup_cause.is_empty() {
                call.record.hangup_cause = "shutdown".into();
            }
            call.record.hangup_side = HangupSide::Ura;
            let _ = self.records.send(call.record);
        }
        self.media.shutdown();
    }
}
