//! Callers in agent queues: the router's decisions carried out. An offer
//! rings the agent's registered softphone (an outgoing SIP call, the
//! "agent leg"), an answer bridges its media to the caller's, either
//! side's BYE ends both, the agent's hold plays hold music to the caller,
//! and the agent's REFER transfers the caller to another agent or queue.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ura_media::{PlayId, PlayMode, StreamId};
use ura_router::{
    AgentId, CancelReason, Channel, LeaveReason, OfferFailure, OfferId, Output as RouterOutput,
    TaskId, TaskSpec,
};
use ura_sip::endpoint::OutgoingCall;
use ura_sip::sdp::{self, Direction, LocalMedia, Negotiated, SessionDescription};
use ura_sip::{DialogId, EndReason, Endpoint, Event};
use ura_store::{HangupSide, QueueRecord};
use ura_webhooks::{EventType, Subject};

use super::{stream_params, wall_clock, App, Calls};
use crate::engine::queues::AgentCommand;
use crate::queues::RecordMode;

/// A caller in an agent queue (or bridged to an agent from one).
#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) task: TaskId,
    pub(super) entered: Instant,
    /// The agent leg bridged to the caller.
    pub(super) leg: Option<DialogId>,
    /// An agent leg answered, waiting for the router to assign it.
    pub(super) answered_leg: Option<DialogId>,
    pub(super) talk_from: Option<Instant>,
    pub(super) talk: Duration,
    pub(super) hold_from: Option<Instant>,
    pub(super) hold: Duration,
    /// When the queue's periodic message plays next.
    pub(super) periodic_at: Option<Instant>,
    /// Whether the exit key was offered.
    exit_offered: bool,
}

/// The call to an agent's softphone.
pub(super) struct AgentLeg {
    pub(super) caller: DialogId,
    /// The queue's offer this leg carries; `None` for an internal call
    /// (an agent dialled another agent's extension).
    queue: Option<QueueOffer>,
    agent: AgentId,
    pub(super) stream: StreamId,
    local: LocalMedia,
    our_offer: SessionDescription,
    negotiated: Option<Negotiated>,
    /// The router withdrew the offer (or the call was handed on): its end
    /// is not news for the router.
    done: bool,
    bridged: bool,
}

/// What to tell the router (or the internal caller) when a leg ends.
#[derive(Debug, Clone, Copy)]
pub(super) struct LegKey {
    caller: DialogId,
    queue: Option<QueueOffer>,
    agent: AgentId,
}

impl AgentLeg {
    fn key(&self) -> LegKey {
        LegKey {
            caller: self.caller,
            queue: self.queue,
            agent: self.agent,
        }
    }
}

/// The router's task and offer an agent leg was placed for.
#[derive(Debug, Clone, Copy)]
struct QueueOffer {
    task: TaskId,
    offer: OfferId,
}

/// The user part and display name of a From header, for caller ID.
fn caller_id(from: &str) -> (String, Option<String>) {
    let uri = ura_sip::message::name_addr_uri(from);
    let user = ura_sip::message::uri_user(uri).unwrap_or_else(|| "anonymous".into());
    let display = from
        .split('<')
        .next()
        .map(|d| d.trim().trim_matches('"').trim())
        .filter(|d| !d.is_empty() && !d.starts_with("sip:"))
        .map(str::to_string);
    (user, display)
}

fn failure(status: u16) -> OfferFailure {
    match status {
        486 | 600 => OfferFailure::Busy,
        603 => OfferFailure::Declined,
        408 | 480 | 487 => OfferFailure::NoAnswer,
        _ => OfferFailure::Unreachable,
    }
}

/// The data of `queue.left`: the call, its queue, how it left, after how
/// long, to which agent.
pub(super) fn queue_left_data(
    r: &ura_store::CallRecord,
    outcome: &str,
    agent: Option<&str>,
) -> Value {
    let q = r.queue.as_ref();
    json!({
        "sip_call_id": r.sip_call_id,
        "number": r.number,
        "service": r.service,
        "queue": q.map(|q| q.queue.clone()),
        "outcome": outcome,
        "wait_ms": q.and_then(|q| q.wait_ms),
        "agent": agent,
    })
}

impl Calls {
    /// The caller chose `service`: into its agent queue, or the stub queue
    /// when the service has none.
    pub(super) fn enqueue(&mut self, now: Instant, dialog: DialogId, service: ura_ivr::ServiceId) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        let App::Ivr(ivr) = &mut call.app else { return };
        let queue_name = ivr.queue_of(&service);
        let queue = queue_name.as_deref().and_then(|q| self.queues.queue(q));
        let (Some(queue_name), Some(queue)) = (queue_name, queue) else {
            let mut player = super::Player {
                media: &self.media,
                prompts: &self.prompts,
                next_play: &mut self.next_play,
                stream: call.stream,
            };
            ivr.stub_queue(now, &service, &mut player);
            self.schedule(dialog);
            return;
        };
        let task = self.queues.new_task();
        call.record.queue = Some(QueueRecord {
            queue: queue_name.clone(),
            entered_at: wall_clock(),
            ..QueueRecord::default()
        });
        match self
            .queues
            .router
            .enqueue(now, TaskSpec::new(task, queue, Channel::Voice))
        {
            Ok(()) => {
                tracing::info!(%dialog, queue = %queue_name, %task, "caller waits in the queue");
                let r = &call.record;
                self.events.emit(
                    EventType::QueueEntered,
                    Subject::Number(r.number.clone()),
                    || {
                        json!({
                            "sip_call_id": r.sip_call_id,
                            "number": r.number,
                            "service": r.service,
                            "queue": queue_name,
                        })
                    },
                );
                let settings = self.queues.settings(&queue_name);
                let periodic_at = settings
                    .filter(|q| q.periodic_prompt.is_some())
                    .map(|q| now + Duration::from_secs(q.periodic_seconds));
                // Without announcements, the exit key is offered now;
                // with them, in the first one.
                let offer_now = settings.is_some_and(|q| q.announce_seconds == 0);
                let offer = if offer_now {
                    self.exit_offer(dialog)
                } else {
                    Vec::new()
                };
                self.hold_music(dialog, &queue_name, offer);
                self.tasks.insert(task, dialog);
                if let Some(call) = self.calls.get_mut(&dialog) {
                    call.waiting = Some(Waiting {
                        task,
                        entered: now,
                        leg: None,
                        answered_leg: None,
                        talk_from: None,
                        talk: Duration::ZERO,
                        hold_from: None,
                        hold: Duration::ZERO,
                        periodic_at,
                        exit_offered: offer_now,
                    });
                }
                self.schedule(dialog);
            }
            Err(e) => {
                tracing::info!(%dialog, queue = %queue_name, error = %e, "queue refused the caller");
                let outcome = match e {
                    ura_router::RouterError::QueueFull(_) => "full",
                    _ => "nobody-logged-in",
                };
                self.queue_over(now, dialog, outcome, ura_ivr::QueueResult::NoAgents);
            }
        }
    }

    /// Plays `first` (e.g. the position), then the queue's hold music in a
    /// loop, to the caller.
    pub(super) fn hold_music(
        &mut self,
        dialog: DialogId,
        queue: &str,
        first: Vec<ura_media::PromptFrames>,
    ) {
        let Some(call) = self.calls.get(&dialog) else {
            return;
        };
        let lang = match &call.app {
            App::Ivr(ivr) => ivr.language(),
            _ => ura_prompts::BuiltinLanguage::PtBr,
        };
        let music_name = self
            .queues
            .settings(queue)
            .and_then(|q| q.hold_music.clone())
            .unwrap_or_else(|| "hold-music".into());
        let music = self
            .prompts
            .get_in(lang, &music_name)
            .or_else(|| self.prompts.get_in(lang, "hold-music"))
            .cloned();
        for (i, clip) in first.into_iter().chain(music.clone()).enumerate() {
            let play = PlayId(self.next_play);
            self.next_play += 1;
            let mode = if i == 0 {
                PlayMode::Replace
            } else {
                PlayMode::Append
            };
            let looped = music.as_ref().is_some_and(|m| m.ptr_eq(&clip));
            self.media.play(call.stream, play, clip, mode, looped);
        }
    }

    /// The caller leaves the queue without an agent: the IVR goes on (the
    /// no-answer prompt, then its fallback).
    fn queue_over(
        &mut self,
        now: Instant,
        dialog: DialogId,
        outcome: &str,
        result: ura_ivr::QueueResult,
    ) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        if let Some(w) = call.waiting.take() {
            self.tasks.remove(&w.task);
            if let Some(q) = call.record.queue.as_mut() {
                q.wait_ms = Some(now.duration_since(w.entered).as_millis() as i64);
            }
        }
        if let Some(q) = call.record.queue.as_mut() {
            q.left_at = Some(wall_clock());
            q.outcome = Some(outcome.into());
        }
        self.media.stop_play(call.stream);
        self.drive_ivr(dialog, |ivr, player, record| {
            ivr.queue_result(now, result, player, record)
        });
    }

    /// Carries out what the router decided; true if it decided anything.
    pub fn drain_router(&mut self, now: Instant, ep: &mut Endpoint) -> bool {
        let mut any = false;
        while let Some(out) = self.queues.router.poll_output() {
            any = true;
            if self.chat_router(now, &out) {
                continue;
            }
            match out {
                RouterOutput::Offer {
                    offer, task, agent, ..
                } => self.ring_agent(now, ep, offer, task, agent),
                RouterOutput::OfferCancelled { offer, reason, .. } => {
                    self.withdraw(now, ep, offer, reason)
                }
                RouterOutput::TaskAssigned { task, agent, .. } => self.connect(now, task, agent),
                RouterOutput::TaskLeft { task, reason, .. } => {
                    if let Some(&dialog) = self.tasks.get(&task) {
                        let (outcome, result) = match reason {
                            LeaveReason::Timeout => {
                                ("timeout", ura_ivr::QueueResult::WaitedTooLong)
                            }
                            LeaveReason::NobodyLoggedIn => {
                                ("nobody-logged-in", ura_ivr::QueueResult::NoAgents)
                            }
                            LeaveReason::Abandoned => ("abandoned", ura_ivr::QueueResult::NoAgents),
                        };
                        tracing::info!(%dialog, %task, outcome, "caller left the queue");
                        self.queue_over(now, dialog, outcome, result);
                        if let Some(call) = self.calls.get(&dialog) {
                            let r = &call.record;
                            self.events.emit(
                                EventType::QueueLeft,
                                Subject::Number(r.number.clone()),
                                || queue_left_data(r, outcome, None),
                            );
                        }
                    }
                }
                RouterOutput::Announce {
                    task,
                    position,
                    estimated_wait,
                } => self.announce(task, position, estimated_wait),
                RouterOutput::AgentState { agent, state } => {
                    let ext = self.queues.ext(agent).to_string();
                    let name = crate::engine::queues::state_name(&state);
                    tracing::info!(agent = %ext, state = %name, "agent state");
                    self.events
                        .emit(EventType::AgentState, Subject::Agent(ext.clone()), || {
                            let (state, reason) = match &state {
                                ura_router::AgentState::Paused(reason) => {
                                    ("paused".to_string(), Some(reason.clone()))
                                }
                                _ => (name, None),
                            };
                            json!({ "agent": ext, "state": state, "reason": reason })
                        });
                }
            }
        }
        if any {
            self.chat_positions(now);
        }
        any
    }

    /// "Você é o segundo da fila. O tempo estimado de espera é de 3 minutos."
    fn announce(&mut self, task: TaskId, position: usize, wait: Option<Duration>) {
        let Some(&dialog) = self.tasks.get(&task) else {
            return;
        };
        let Some(call) = self.calls.get(&dialog) else {
            return;
        };
        if call.waiting.as_ref().is_none_or(|w| w.leg.is_some()) {
            return;
        }
        let lang = match &call.app {
            App::Ivr(ivr) => ivr.language(),
            _ => ura_prompts::BuiltinLanguage::PtBr,
        };
        let mut names = vec![if position <= 10 {
            format!("queue-position-{position}")
        } else {
            "queue-position-more".into()
        }];
        if let Some(wait) = wait {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            let said = [1u64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30]
                .into_iter()
                .find(|m| *m >= minutes);
            names.push("queue-wait".into());
            names.push(match said {
                Some(m) => format!("wait-{m}"),
                None => "wait-more".into(),
            });
        }
        tracing::info!(%dialog, position, ?wait, "position announced");
        let mut clips: Vec<ura_media::PromptFrames> = names
            .iter()
            .filter_map(|n| self.prompts.get_in(lang, n).cloned())
            .collect();
        if call.waiting.as_ref().is_some_and(|w| !w.exit_offered) {
            clips.extend(self.exit_offer(dialog));
            if let Some(w) = self.calls.get_mut(&dialog).and_then(|c| c.waiting.as_mut()) {
                w.exit_offered = true;
            }
        }
        let Some(call) = self.calls.get(&dialog) else {
            return;
        };
        let queue = call
            .record
            .queue
            .as_ref()
            .map(|q| q.queue.clone())
            .unwrap_or_default();
        self.hold_music(dialog, &queue, clips);
    }

    /// Rings `agent`'s softphone for the caller of `task`.
    fn ring_agent(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        offer: OfferId,
        task: TaskId,
        agent: AgentId,
    ) {
        let placed = match self.tasks.get(&task) {
            Some(&caller) => {
                self.place_leg(now, ep, caller, agent, Some(QueueOffer { task, offer }))
            }
            None => Err(OfferFailure::Unreachable),
        };
        match placed {
            Ok(leg) => {
                self.offers.insert(offer, leg);
            }
            Err(failure) => {
                let _ = self.queues.router.offer_failed(now, offer, failure);
            }
        }
    }

    /// Calls `agent`'s most recently registered phone for `caller`, from a
    /// media stream on the caller's worker; the new leg's dialog.
    fn place_leg(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        caller: DialogId,
        agent: AgentId,
        queue: Option<QueueOffer>,
    ) -> Result<DialogId, OfferFailure> {
        let ext = self.queues.ext(agent).to_string();
        let binding = ep.bindings(&ext).into_iter().max_by_key(|b| b.expires_at);
        let Some(binding) = binding else {
            tracing::info!(%caller, agent = %ext, "agent has no registered phone");
            return Err(OfferFailure::Unreachable);
        };
        // Our address toward the agent's phone (its family, its route).
        let ip = self.media_ip(None, binding.flow.remote.ip(), None);
        let call = self
            .calls
            .get_mut(&caller)
            .ok_or(OfferFailure::Unreachable)?;
        let allocated = self
            .media
            .allocate_with(call.stream)
            .or_else(|_| self.media.allocate());
        let (stream, local_rtp) = allocated.map_err(|e| {
            tracing::warn!(%caller, agent = %ext, error = %e, "no RTP port for the agent leg");
            OfferFailure::Busy
        })?;
        let mut local = LocalMedia::new(ip, local_rtp.port());
        local.session_id = fastrand::u64(1..u64::MAX / 2);
        local.session_version = 1;
        // The caller's codec first: no transcoding when the agent has it.
        if let Some(n) = &call.negotiated {
            local.codecs = match n.codec {
                sdp::AudioCodec::Pcma => vec![sdp::AudioCodec::Pcma, sdp::AudioCodec::Pcmu],
                sdp::AudioCodec::Pcmu => vec![sdp::AudioCodec::Pcmu, sdp::AudioCodec::Pcma],
            };
        }
        let our_offer = sdp::offer(&local, Direction::SendRecv);
        let (user, display) = caller_id(&call.from);
        let mut extra = Vec::new();
        if let Some(q) = &call.record.queue {
            extra.push(("X-Ura-Queue".to_string(), q.queue.clone()));
        }
        if let Some(service) = &call.record.service {
            extra.push(("X-Ura-Service".into(), service.clone()));
        }
        let outgoing = OutgoingCall {
            target: binding.flow,
            request_uri: binding.contact.clone(),
            from_display: display,
            from_user: user,
            to_uri: match call.local.address {
                std::net::IpAddr::V6(v6) => format!("sip:{ext}@[{v6}]"),
                v4 => format!("sip:{ext}@{v4}"),
            },
            extra_headers: extra,
            sdp: our_offer.to_string().into_bytes(),
        };
        let leg = ep.call(now, outgoing).map_err(|e| {
            tracing::warn!(%caller, agent = %ext, error = %e, "cannot call the agent");
            self.media.close(stream);
            OfferFailure::Unreachable
        })?;
        if let Some(q) = call.record.queue.as_mut() {
            q.ring_attempts += 1;
        }
        tracing::info!(%caller, %leg, agent = %ext, contact = %binding.contact, "ringing the agent");
        self.streams.insert(stream, leg);
        self.legs.insert(
            leg,
            AgentLeg {
                caller,
                queue,
                agent,
                stream,
                local,
                our_offer,
                negotiated: None,
                done: false,
                bridged: false,
            },
        );
        Ok(leg)
    }

    /// The router took an offer back: stop ringing.
    fn withdraw(&mut self, now: Instant, ep: &mut Endpoint, offer: OfferId, reason: CancelReason) {
        let Some(leg_id) = self.offers.remove(&offer) else {
            return;
        };
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        leg.done = true;
        tracing::info!(leg = %leg_id, agent = %self.queues.ext(leg.agent), ?reason, "offer withdrawn");
        let _ = ep.hangup(now, leg_id);
    }

    /// A SIP event about an agent leg; gives back events about other calls.
    pub(super) fn leg_event(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        event: Event,
    ) -> Option<Event> {
        let dialog = match &event {
            Event::Progress { dialog, .. }
            | Event::Answered { dialog, .. }
            | Event::CallFailed { dialog, .. }
            | Event::Ended { dialog, .. }
            | Event::ReOffer { dialog, .. }
            | Event::InfoDigit { dialog, .. }
            | Event::Refer { dialog, .. } => *dialog,
            _ => return Some(event),
        };
        if !self.legs.contains_key(&dialog) {
            return Some(event);
        }
        match event {
            Event::Progress { status, .. } => {
                tracing::debug!(leg = %dialog, status, "agent phone progress");
            }
            Event::Answered { body, .. } => self.leg_answered(now, ep, dialog, body),
            Event::CallFailed { status, reason, .. } => {
                self.leg_closed(dialog);
                let leg = self.legs.remove(&dialog)?;
                tracing::info!(leg = %dialog, agent = %self.queues.ext(leg.agent), status, %reason, "agent did not take the call");
                if !leg.done {
                    self.leg_failed(now, ep, &leg.key(), failure(status));
                }
            }
            Event::Ended { reason, .. } => self.leg_ended(now, ep, dialog, reason),
            Event::ReOffer { body, .. } => self.leg_reoffer(now, ep, dialog, body),
            Event::InfoDigit { .. } => {}
            Event::Refer { target_user, .. } => self.leg_refer(now, ep, dialog, target_user),
            other => return Some(other),
        }
        None
    }

    fn leg_closed(&mut self, dialog: DialogId) {
        if let Some(leg) = self.legs.get(&dialog) {
            self.media.close(leg.stream);
        }
    }

    fn leg_answered(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        dialog: DialogId,
        body: Option<Vec<u8>>,
    ) {
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        if leg.done {
            // Answered as the offer was withdrawn: hang up.
            let _ = ep.hangup(now, dialog);
            return;
        }
        let negotiated = body
            .as_deref()
            .ok_or_else(|| "no SDP in the agent's answer".to_string())
            .and_then(|b| {
                SessionDescription::parse(b)
                    .and_then(|a| sdp::accept_answer(&leg.our_offer, &a))
                    .map_err(|e| e.to_string())
            });
        let n = match negotiated {
            Ok(n) => n,
            Err(e) => {
                tracing::info!(leg = %dialog, error = %e, "agent's answer unusable: hanging up");
                leg.done = true;
                let _ = ep.hangup(now, dialog);
                if let Some(leg) = self.legs.get(&dialog).map(AgentLeg::key) {
                    self.leg_failed(now, ep, &leg, OfferFailure::Declined);
                }
                return;
            }
        };
        let latch_only = Calls::unreachable(&self.media, dialog, n.remote_rtp);
        self.media
            .start_stream(leg.stream, stream_params(&n, latch_only));
        tracing::info!(leg = %dialog, agent = %self.queues.ext(leg.agent), codec = ?n.codec, "agent answered");
        leg.negotiated = Some(n);
        let caller = leg.caller;
        let Some(QueueOffer { offer, .. }) = leg.queue else {
            self.connect_internal(caller, dialog);
            return;
        };
        if let Some(w) = self.calls.get_mut(&caller).and_then(|c| c.waiting.as_mut()) {
            w.answered_leg = Some(dialog);
        }
        self.offers.remove(&offer);
        if self.queues.router.offer_accepted(now, offer).is_err() {
            if let Some(leg) = self.legs.get_mut(&dialog) {
                leg.done = true;
            }
            let _ = ep.hangup(now, dialog);
        }
    }

    /// The router assigned the task to the agent who answered: bridge.
    fn connect(&mut self, now: Instant, task: TaskId, agent: AgentId) {
        let Some(&caller) = self.tasks.get(&task) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        let Some(w) = call.waiting.as_mut() else {
            return;
        };
        let Some(leg_id) = w.answered_leg.take() else {
            return;
        };
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        leg.bridged = true;
        w.leg = Some(leg_id);
        w.talk_from = Some(now);
        self.media.stop_play(call.stream);
        if let Err(e) = self.media.bridge(call.stream, leg.stream) {
            tracing::warn!(%caller, leg = %leg_id, error = %e, "bridge failed");
        }
        let ext = self.queues.ext(agent).to_string();
        let queue = call.record.queue.as_ref().map(|q| q.queue.clone());
        let first_answer = call
            .record
            .queue
            .as_ref()
            .is_some_and(|q| q.agent.is_none());
        if let Some(q) = call.record.queue.as_mut() {
            if q.agent.is_none() {
                q.wait_ms = Some(now.duration_since(w.entered).as_millis() as i64);
                q.left_at = Some(wall_clock());
                q.outcome = Some("answered".into());
            }
            q.agent = Some(ext.clone());
        }
        if first_answer {
            let r = &call.record;
            self.events.emit(
                EventType::QueueLeft,
                Subject::Number(r.number.clone()),
                || queue_left_data(r, "answered", Some(&ext)),
            );
        }
        let record_mode = queue
            .as_deref()
            .and_then(|q| self.queues.settings(q))
            .map_or(RecordMode::Off, |q| q.record);
        if record_mode != RecordMode::Off {
            let dir = self.config.data_dir.join("recordings");
            let name = format!(
                "{}-{}.wav",
                chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                caller
            );
            let path = dir.join(&name);
            let stereo = record_mode == RecordMode::Stereo;
            let done = |r: ura_media::BridgeRecorded| {
                tracing::info!(stream = %r.stream, path = %r.path.display(), seconds = r.seconds, dropped_frames = r.dropped_frames, "bridged call recorded");
            };
            match self.media.record_bridge(call.stream, path, stereo, done) {
                Ok(()) => {
                    if let Some(q) = call.record.queue.as_mut() {
                        q.recording = Some(format!("recordings/{name}"));
                    }
                }
                Err(e) => tracing::warn!(%caller, error = %e, "recording not started"),
            }
        }
        tracing::info!(%caller, leg = %leg_id, agent = %ext, "caller bridged to the agent");
        self.drive_ivr(caller, |ivr, player, record| {
            ivr.queue_result(now, ura_ivr::QueueResult::Answered, player, record)
        });
    }

    /// An agent leg ended (BYE either way, or our CANCEL completed).
    fn leg_ended(&mut self, now: Instant, ep: &mut Endpoint, dialog: DialogId, reason: EndReason) {
        self.leg_closed(dialog);
        let Some(leg) = self.legs.remove(&dialog) else {
            return;
        };
        if !leg.bridged {
            if !leg.done {
                self.leg_failed(now, ep, &leg.key(), OfferFailure::NoAnswer);
            }
            return;
        }
        if leg.done {
            // The caller hung up, or the agent handed the caller on: the
            // router knows already.
            return;
        }
        match leg.queue {
            Some(q) => {
                let _ = self.queues.router.task_ended(now, q.task);
            }
            None => self.internal_over(now, ep, &leg.key()),
        }
        let Some(call) = self.calls.get_mut(&leg.caller) else {
            return;
        };
        if let Some(w) = call.waiting.as_mut() {
            if w.leg == Some(dialog) {
                w.leg = None;
                settle_talk(w, now);
            }
        }
        tracing::info!(caller = %leg.caller, leg = %dialog, ?reason, "agent leg ended: hanging up the caller");
        let cause = if reason == EndReason::RemoteBye {
            "agent-bye"
        } else {
            "ura-bye"
        };
        self.hangup(now, ep, leg.caller, cause);
    }

    /// The caller's call ended: the agent leg (if any) goes too, and the
    /// router hears that the task ended or was abandoned.
    pub(super) fn caller_ended(&mut self, now: Instant, ep: &mut Endpoint, call: &mut super::Call) {
        if let App::Internal(internal) = &call.app {
            if let Some(leg_id) = internal.leg {
                if let Some(leg) = self.legs.get_mut(&leg_id) {
                    leg.done = true;
                    let key = leg.key();
                    let _ = ep.hangup(now, leg_id);
                    self.internal_over(now, ep, &key);
                }
            }
        }
        let Some(mut w) = call.waiting.take() else {
            return;
        };
        self.tasks.remove(&w.task);
        settle_talk(&mut w, now);
        let bridged = w.leg.or(w.answered_leg);
        let abandoned = call
            .record
            .queue
            .as_ref()
            .is_some_and(|q| q.outcome.is_none());
        if let Some(q) = call.record.queue.as_mut() {
            if q.outcome.is_none() {
                q.outcome = Some("abandoned".into());
                q.left_at = Some(wall_clock());
                q.wait_ms = Some(now.duration_since(w.entered).as_millis() as i64);
            }
            if !w.talk.is_zero() {
                q.talk_ms = Some(w.talk.as_millis() as i64);
            }
            if !w.hold.is_zero() {
                q.hold_ms = Some(w.hold.as_millis() as i64);
            }
        }
        match bridged {
            Some(leg_id) => {
                if let Some(leg) = self.legs.get_mut(&leg_id) {
                    leg.done = true;
                }
                let _ = self.queues.router.task_ended(now, w.task);
                let _ = ep.hangup(now, leg_id);
            }
            None => {
                let _ = self.queues.router.abandon(now, w.task);
            }
        }
        if abandoned {
            let r = &call.record;
            self.events.emit(
                EventType::QueueLeft,
                Subject::Number(r.number.clone()),
                || queue_left_data(r, "abandoned", None),
            );
        }
    }

    /// The agent's re-INVITE: hold (sendonly/inactive) plays hold music to
    /// the caller; taking the call back bridges again.
    fn leg_reoffer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        dialog: DialogId,
        body: Option<Vec<u8>>,
    ) {
        let Some(leg) = self.legs.get_mut(&dialog) else {
            let _ = ep.reject_reoffer(now, dialog, 481);
            return;
        };
        leg.local.session_version += 1;
        let Some(body) = body else {
            let o = sdp::offer(&leg.local, Direction::SendRecv);
            let _ = ep.accept_reoffer(now, dialog, o.to_string().as_bytes());
            return;
        };
        let (answer, n) =
            match SessionDescription::parse(&body).and_then(|o| sdp::answer(&o, &leg.local)) {
                Ok(x) => x,
                Err(e) => {
                    tracing::info!(leg = %dialog, error = %e, "agent re-INVITE refused: 488");
                    leg.local.session_version -= 1;
                    let _ = ep.reject_reoffer(now, dialog, 488);
                    return;
                }
            };
        let held = !n.local_direction.sends() || !n.local_direction.receives();
        let latch_only = Calls::unreachable(&self.media, dialog, n.remote_rtp);
        self.media.update(leg.stream, stream_params(&n, latch_only));
        leg.negotiated = Some(n);
        let _ = ep.accept_reoffer(now, dialog, answer.to_string().as_bytes());
        let (caller, leg_stream, bridged) = (leg.caller, leg.stream, leg.bridged);
        if !bridged {
            return;
        }
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        let caller_stream = call.stream;
        let queue = call
            .record
            .queue
            .as_ref()
            .map(|q| q.queue.clone())
            .unwrap_or_default();
        let Some(w) = call.waiting.as_mut() else {
            return;
        };
        if held && w.hold_from.is_none() {
            tracing::info!(%caller, leg = %dialog, "agent holds the caller");
            w.hold_from = Some(now);
            self.media.unbridge(caller_stream);
            self.hold_music(caller, &queue, Vec::new());
        } else if !held {
            if let Some(from) = w.hold_from.take() {
                tracing::info!(%caller, leg = %dialog, "agent takes the caller back");
                w.hold += now.duration_since(from);
                self.media.stop_play(caller_stream);
                let _ = self.media.bridge(caller_stream, leg_stream);
            }
        }
    }

    /// The agent's blind transfer (REFER) to another agent's extension or
    /// to a queue.
    fn leg_refer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        dialog: DialogId,
        target: Option<String>,
    ) {
        let Some(leg) = self.legs.get(&dialog) else {
            return;
        };
        let Some(QueueOffer { task, .. }) = leg.queue else {
            // Transfers are for callers from a queue.
            let _ = ep.notify_refer(now, dialog, 603, "Declined", true);
            return;
        };
        let caller = leg.caller;
        let target = target.unwrap_or_default();
        let result = if let Some(agent) = self.queues.agent(&target) {
            self.queues
                .router
                .offer_direct(now, task, agent)
                .map(|_| format!("agent:{target}"))
        } else if let Some(queue) = self.queues.queue(&target) {
            self.queues
                .router
                .transfer_to_queue(now, task, queue)
                .map(|_| format!("queue:{target}"))
        } else {
            tracing::info!(leg = %dialog, %target, "transfer to an unknown target");
            let _ = ep.notify_refer(now, dialog, 404, "Not Found", true);
            return;
        };
        let transfer = match result {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(leg = %dialog, %target, error = %e, "transfer refused");
                let _ = ep.notify_refer(now, dialog, 480, "Temporarily Unavailable", true);
                return;
            }
        };
        tracing::info!(%caller, leg = %dialog, %transfer, "agent transferred the caller");
        let _ = ep.notify_refer(now, dialog, 200, "OK", true);
        if let Some(leg) = self.legs.get_mut(&dialog) {
            leg.done = true;
        }
        let _ = ep.hangup(now, dialog);
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        let caller_stream = call.stream;
        let lang = match &call.app {
            App::Ivr(ivr) => ivr.language(),
            _ => ura_prompts::BuiltinLanguage::PtBr,
        };
        if let Some(q) = call.record.queue.as_mut() {
            q.transfer = Some(transfer.clone());
            if let Some(queue) = transfer.strip_prefix("queue:") {
                q.queue = queue.to_string();
            }
        }
        let queue = call
            .record
            .queue
            .as_ref()
            .map(|q| q.queue.clone())
            .unwrap_or_default();
        if let Some(w) = call.waiting.as_mut() {
            w.leg = None;
            settle_talk(w, now);
        }
        self.media.unbridge(caller_stream);
        let notice = self.prompts.get_in(lang, "transfer").cloned();
        self.hold_music(caller, &queue, notice.into_iter().collect());
    }

    /// An offer (or internal call) that did not reach the agent.
    fn leg_failed(&mut self, now: Instant, ep: &mut Endpoint, leg: &LegKey, failure: OfferFailure) {
        match leg.queue {
            Some(q) => {
                self.offers.remove(&q.offer);
                let _ = self.queues.router.offer_failed(now, q.offer, failure);
            }
            None => {
                self.internal_over(now, ep, leg);
                tracing::info!(caller = %leg.caller, ?failure, "extension not reached");
                if let Some(call) = self.calls.get_mut(&leg.caller) {
                    if let App::Internal(i) = &mut call.app {
                        i.leg = None;
                        call.record.hangup_cause = "extension-unavailable".into();
                    }
                }
                self.say_and_hang_up(now, leg.caller, "internal-unavailable");
            }
        }
    }

    /// An agent dialled `ext` (another agent's extension): ring it.
    pub(super) fn ring_extension(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        caller: DialogId,
        ext: &str,
    ) {
        let Some(agent) = self.queues.agent(ext) else {
            return;
        };
        let from = self.calls.get(&caller).and_then(|c| match &c.app {
            App::Internal(i) => Some(i.from.clone()),
            _ => None,
        });
        match self.place_leg(now, ep, caller, agent, None) {
            Ok(leg) => {
                for e in [Some(ext.to_string()), from].into_iter().flatten() {
                    *self.internal_busy.entry(e.clone()).or_default() += 1;
                    self.reachability(now, ep, &e);
                }
                if let Some(App::Internal(i)) = self.calls.get_mut(&caller).map(|c| &mut c.app) {
                    i.leg = Some(leg);
                }
            }
            Err(failure) => {
                tracing::info!(%caller, %ext, ?failure, "extension not reached");
                if let Some(call) = self.calls.get_mut(&caller) {
                    call.record.hangup_cause = "extension-unavailable".into();
                }
                self.say_and_hang_up(now, caller, "internal-unavailable");
            }
        }
    }

    /// The extension answered an internal call: bridge it to the caller.
    fn connect_internal(&mut self, caller: DialogId, leg_id: DialogId) {
        let Some(call) = self.calls.get(&caller) else {
            return;
        };
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        leg.bridged = true;
        self.media.stop_play(call.stream);
        if let Err(e) = self.media.bridge(call.stream, leg.stream) {
            tracing::warn!(%caller, leg = %leg_id, error = %e, "bridge failed");
        }
        tracing::info!(%caller, leg = %leg_id, agent = %self.queues.ext(leg.agent), "internal call bridged");
    }

    /// An internal call is over: both agents can take queue calls again.
    fn internal_over(&mut self, now: Instant, ep: &mut Endpoint, leg: &LegKey) {
        if leg.queue.is_some() {
            return;
        }
        let callee = self.queues.ext(leg.agent).to_string();
        let from = self.calls.get(&leg.caller).and_then(|c| match &c.app {
            App::Internal(i) => Some(i.from.clone()),
            _ => None,
        });
        for e in [Some(callee), from].into_iter().flatten() {
            if let Some(n) = self.internal_busy.get_mut(&e) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.internal_busy.remove(&e);
                }
            }
            self.reachability(now, ep, &e);
        }
    }

    /// Whether an agent leg is bridged to its caller.
    pub(super) fn leg_bridged(&self, leg: DialogId) -> bool {
        self.legs.get(&leg).is_some_and(|l| l.bridged)
    }

    /// Plays a built-in prompt to the caller, then hangs up.
    fn say_and_hang_up(&mut self, now: Instant, dialog: DialogId, name: &str) {
        let lang = self.language_of(dialog);
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        match self.prompts.get_in(lang, name).cloned() {
            Some(clip) => {
                let play = PlayId(self.next_play);
                self.next_play += 1;
                self.media
                    .play(call.stream, play, clip, PlayMode::Replace, false);
                if let App::Internal(i) = &mut call.app {
                    i.closing = Some(play);
                }
            }
            None => {
                call.hangup_at = Some(now + super::HANGUP_GRACE);
                self.schedule(dialog);
            }
        }
    }

    /// An agent asked for something (feature code or command line).
    pub fn agent_command(
        &mut self,
        now: Instant,
        ext: &str,
        cmd: &AgentCommand,
    ) -> Result<(), String> {
        self.queues.command(now, ext, cmd).map_err(|e| match e {
            ura_router::RouterError::UnknownAgent(_) => format!("no agent {ext}"),
            ura_router::RouterError::NotLoggedIn(_) => format!("agent {ext} is not logged in"),
            other => format!("agent {ext}: {other}"),
        })
    }

    /// An agent's phone registered or went away.
    pub fn reachability(&mut self, now: Instant, ep: &Endpoint, ext: &str) {
        let Some(agent) = self.queues.agent(ext) else {
            return;
        };
        // An agent on an internal call takes no queue call meanwhile.
        let reachable = !ep.bindings(ext).is_empty() && !self.internal_busy.contains_key(ext);
        let _ = self
            .queues
            .router
            .set_reachable(now, agent, Channel::Voice, reachable);
    }

    /// The live view of queues and agents.
    pub fn queue_status(&self, now: Instant) -> serde_json::Value {
        let mut view = self.queues.status(now);
        self.chat_live(&mut view);
        view
    }

    /// Whether a media stream belongs to an agent leg (and which).
    pub(super) fn leg_of_stream(&self, stream: StreamId) -> Option<DialogId> {
        self.streams
            .get(&stream)
            .copied()
            .filter(|d| self.legs.contains_key(d))
    }

    /// An agent leg's RTP stopped: hang it up.
    pub(super) fn leg_rtp_timeout(&mut self, now: Instant, ep: &mut Endpoint, dialog: DialogId) {
        tracing::info!(leg = %dialog, "no RTP from the agent's phone: hanging up");
        let _ = ep.hangup(now, dialog);
    }

    /// Records who ended a call bridged to an agent.
    pub(super) fn hangup_side(cause: &str, side: HangupSide) -> HangupSide {
        if cause == "agent-bye" {
            HangupSide::Agent
        } else {
            side
        }
    }
}

fn settle_talk(w: &mut Waiting, now: Instant) {
    if let Some(from) = w.talk_from.take() {
        w.talk += now.duration_since(from);
    }
    if let Some(from) = w.hold_from.take() {
        w.hold += now.duration_since(from);
    }
}
