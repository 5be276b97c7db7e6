//! Conversations in the router the calls use: a conversation that chose a
//! service is a task of the chat channel in that service's queue; the
//! router's offers ring the agent's desk, the desk's accept is the answer,
//! and the agent's close ends the task (wrap-up follows, as for a call).
//! An agent is reachable for chats while a desk page of theirs is open.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ura_channels::{
    ChannelsError, ChatLanguage, Closer, Conversation, ConversationId, Now, Output, Phase, Start,
};
use ura_ivr::{Decision, Hours, QueueResult};
use ura_router::{
    AgentId, AgentState, Channel, LeaveReason, OfferFailure, Output as RouterOutput, TaskSpec,
};

use super::Calls;
use crate::engine::chats::{
    desk_conversation, error_frame, is_open, message_json, status_frame, token, ChatInput,
    ChatWrite, Conv, DeskCommand, Hello, Sub, SubId, SubKind, MAX_OPEN,
};
use crate::engine::queues::{state_name, AgentCommand};

/// The clock, as conversations take it.
fn clock(now: Instant) -> Now {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Now { mono: now, unix_ms }
}

/// A pre-chat field's value is at most this long.
const MAX_FIELD: usize = 200;

/// Checks the pre-chat form against the channel's rules; the error names
/// the field.
fn check_fields(
    rules: &ura_channels::PrechatFields,
    fields: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, (String, String)> {
    let mut out = std::collections::BTreeMap::new();
    for (name, rule) in rules.each() {
        let value = fields.get(name).map(|v| v.trim()).unwrap_or("");
        match rule {
            ura_channels::FieldRule::Off => continue,
            ura_channels::FieldRule::Required if value.is_empty() => {
                return Err((name.into(), "required".into()))
            }
            _ => {}
        }
        if value.chars().count() > MAX_FIELD {
            return Err((name.into(), format!("at most {MAX_FIELD} characters")));
        }
        if name == "email" && !value.is_empty() && !value.contains('@') {
            return Err((name.into(), "not an e-mail address".into()));
        }
        if !value.is_empty() {
            out.insert(name.to_string(), value.to_string());
        }
    }
    Ok(out)
}

fn refusal(e: &ChannelsError) -> &'static str {
    match e {
        ChannelsError::Empty => "empty",
        ChannelsError::TooLong { .. } => "too_long",
        ChannelsError::Closed => "closed",
        ChannelsError::TooFast => "too_fast",
        ChannelsError::NotYourConversation => "not_yours",
        ChannelsError::Invalid { .. } => "invalid",
        ChannelsError::TooManyAttachments { .. } => "too_many_files",
        ChannelsError::Identity { .. } => "identity_refused",
        ChannelsError::NoSurvey => "no_survey",
        ChannelsError::AlreadyRated => "already_rated",
        ChannelsError::SurveyOver => "survey_over",
    }
}

impl Calls {
    /// Where ended conversations are written.
    pub fn set_chat_records(&mut self, tx: tokio::sync::mpsc::Sender<ChatWrite>) {
        self.chat_records = Some(tx);
    }

    /// Where transcripts are handed to be e-mailed.
    pub fn set_mailer(
        &mut self,
        tx: tokio::sync::mpsc::Sender<crate::engine::transcripts::TranscriptMail>,
    ) {
        self.mailer = Some(tx);
    }

    /// One input from a web socket.
    pub fn chat_input(&mut self, now: Instant, input: ChatInput) {
        match input {
            ChatInput::VisitorHello {
                sub,
                channel,
                hello,
                tx,
            } => self.visitor_hello(now, sub, &channel, hello, tx),
            ChatInput::VisitorText {
                sub,
                text,
                client_id,
            } => {
                let Some(SubKind::Visitor(c)) = self.chats.subs.get(&sub).map(|s| s.kind.clone())
                else {
                    return;
                };
                let Some(conv) = self.chats.convs.get_mut(&c) else {
                    return;
                };
                if let Err(e) = conv
                    .conv
                    .visitor_text(clock(now), &text, client_id.as_deref())
                {
                    let frame = error_frame(refusal(&e), &e.to_string(), client_id.as_deref());
                    self.chats.send(sub, &frame);
                }
                self.chat_flush(now, c);
            }
            ChatInput::VisitorRead { sub, seq } => {
                if let Some(SubKind::Visitor(c)) = self.chats.subs.get(&sub).map(|s| s.kind.clone())
                {
                    let Some(conv) = self.chats.convs.get_mut(&c) else {
                        return;
                    };
                    let seq = seq.min(conv.conv.last_seq().0);
                    if seq > conv.read_by_visitor {
                        conv.read_by_visitor = seq;
                        if let Some(agent) = conv.agent {
                            let frame = serde_json::json!({
                                "type": "read", "conversation": c.0, "seq": seq,
                            })
                            .to_string();
                            self.desk_send(now, agent, &frame);
                        }
                    }
                }
            }
            ChatInput::VisitorTyping { sub } => {
                if let Some(SubKind::Visitor(c)) = self.chats.subs.get(&sub).map(|s| s.kind.clone())
                {
                    let agent = self.chats.convs.get(&c).and_then(|c| c.agent);
                    if let Some(agent) = agent {
                        let frame = serde_json::json!({
                            "type": "typing", "conversation": c.0, "from": "visitor",
                        })
                        .to_string();
                        self.desk_send(now, agent, &frame);
                    }
                }
            }
            ChatInput::VisitorClose { sub } => {
                if let Some(SubKind::Visitor(c)) = self.chats.subs.get(&sub).map(|s| s.kind.clone())
                {
                    if let Some(conv) = self.chats.convs.get_mut(&c) {
                        conv.conv.close(clock(now), Closer::Visitor);
                    }
                    self.chat_flush(now, c);
                }
            }
            ChatInput::VisitorRate {
                sub,
                score,
                comment,
            } => self.visitor_rate(now, sub, score, comment.as_deref()),
            ChatInput::DeskLogin {
                ext,
                password,
                reply,
            } => {
                let agent = self.config.routing.agents.get(&ext);
                let ok = agent
                    .and_then(|a| a.password.as_deref())
                    .is_some_and(|p| same(p.as_bytes(), password.as_bytes()));
                let _ = reply.send(agent.filter(|_| ok).map(|a| a.name.clone()));
            }
            ChatInput::DeskCustomer {
                ext,
                conversation,
                reply,
            } => {
                let agent = self.queues.agent(&ext);
                let offered = |c: ConversationId| {
                    self.chats
                        .offers
                        .values()
                        .any(|(oc, a)| *oc == c && Some(*a) == agent)
                };
                let customer = self
                    .chats
                    .convs
                    .get(&conversation)
                    .filter(|c| agent.is_some() && (c.agent == agent || offered(conversation)))
                    .map(|c| c.customer.clone());
                let _ = reply.send(customer);
            }
            ChatInput::OpenConversations { channel, reply } => {
                let mut open: Vec<_> = self
                    .chats
                    .convs
                    .iter()
                    .filter(|(_, c)| c.channel == channel && is_open(c.conv.phase()))
                    .map(|(id, _)| *id)
                    .collect();
                open.sort();
                let _ = reply.send(open.into_iter().map(|id| id.to_string()).collect());
            }
            ChatInput::DeskAttach { sub, ext, tx } => self.desk_attach(now, sub, &ext, tx),
            ChatInput::Desk { sub, cmd } => self.desk_command(now, sub, cmd),
            ChatInput::Detach { sub } => {
                if let Some(agent) = self.chats.detach(sub) {
                    self.desk_gone(now, agent);
                }
            }
            ChatInput::Attachment(input) => self.attachment_input(now, input),
        }
        self.chat_positions(now);
    }

    /// The visitor's rating: checked by the conversation, answered on the
    /// socket (`rated`, or an error naming the field or the reason), and
    /// handed to the writer after the record (never waited for).
    fn visitor_rate(&mut self, now: Instant, sub: SubId, score: i64, comment: Option<&str>) {
        let Some(SubKind::Visitor(c)) = self.chats.subs.get(&sub).map(|s| s.kind.clone()) else {
            return;
        };
        let Some(conv) = self.chats.convs.get_mut(&c) else {
            return;
        };
        let rating = match conv.conv.rate(clock(now), score, comment) {
            Ok(r) => r,
            Err(e) => {
                let mut frame = serde_json::json!({
                    "type": "error", "code": refusal(&e), "message": e.to_string(),
                });
                if let ChannelsError::Invalid { field, .. } = &e {
                    frame["code"] = serde_json::json!("invalid_field");
                    frame["field"] = serde_json::json!(field);
                }
                self.chats.send(sub, &frame.to_string());
                return;
            }
        };
        tracing::info!(conversation = %c, score = rating.score, "web chat conversation rated");
        let write = ChatWrite::Rating(ura_store::ChatRating {
            id: conv.record_id.clone(),
            rating: i64::from(rating.score),
            comment: rating.comment.clone(),
            rated_at: chrono::DateTime::from_timestamp_millis(rating.at_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let status = status_frame(&conv.conv);
        if let Some(tx) = &self.chat_records {
            if tx.try_send(write).is_err() {
                tracing::warn!(conversation = %c, "rating lost: the writer's queue is full");
            }
        }
        let rated = serde_json::json!({"type": "rated", "score": rating.score}).to_string();
        for s in self.chats.visitor_subs(c) {
            self.chats.send(s, &rated);
            self.chats.send(s, &status);
        }
    }

    fn visitor_hello(
        &mut self,
        now: Instant,
        sub: SubId,
        channel_id: &str,
        hello: Hello,
        tx: crate::engine::chats::Outbox,
    ) {
        let refuse = |code: &str, message: &str| {
            let _ = tx.try_send(error_frame(code, message, None));
        };
        match hello {
            Hello::Resume { token, last_seq } => {
                let Some(&c) = self.chats.by_token.get(&token) else {
                    refuse(
                        "unknown_conversation",
                        "no such conversation (it ended long ago, or ura restarted)",
                    );
                    return;
                };
                let Some(conv) = self.chats.convs.get_mut(&c) else {
                    return;
                };
                conv.visitors.insert(sub);
                let history: Vec<_> = conv
                    .conv
                    .after(ura_channels::Seq(last_seq))
                    .iter()
                    .map(|m| message_json(m, None))
                    .collect();
                let _ = tx.try_send(
                    serde_json::json!({
                        "type": "resumed",
                        "conversation": token,
                        "messages": history,
                        "read_by_agent": conv.read_by_agent,
                    })
                    .to_string(),
                );
                let _ = tx.try_send(status_frame(&conv.conv));
                self.chats.subs.insert(
                    sub,
                    Sub {
                        tx,
                        kind: SubKind::Visitor(c),
                    },
                );
            }
            Hello::Start { fields, identity } => {
                let Some(channel) = self.routing.channel(channel_id) else {
                    refuse("unavailable", "no such chat channel");
                    return;
                };
                if !channel.config.enabled {
                    refuse("unavailable", "this chat is not available now");
                    return;
                }
                if self.chats.open >= MAX_OPEN {
                    refuse("busy", "too many conversations: try again in a moment");
                    return;
                }
                // A verified identity's fields fill the form (over what
                // the page sent).
                let mut fields = fields;
                if let Some(id) = &identity {
                    fields.extend(id.fields.clone());
                }
                // An omni channel's fields come from its relay (the
                // outside system's ids and customer), already checked.
                let checked = if channel.config.kind == ura_channels::ChannelType::Omni {
                    Ok(fields)
                } else {
                    check_fields(&channel.config.webchat.fields, &fields)
                };
                let visitor = match checked {
                    Ok(v) => v,
                    Err((field, why)) => {
                        let _ = tx.try_send(
                            serde_json::json!({
                                "type": "error", "code": "invalid_field",
                                "field": field, "message": format!("{field}: {why}"),
                            })
                            .to_string(),
                        );
                        return;
                    }
                };
                let w = channel.config.texts();
                let lang = match w.language {
                    ChatLanguage::En => ura_ivr::Lang::En,
                    _ => ura_ivr::Lang::PtBr,
                };
                let mut decision = Decision::evaluate(
                    &channel.schedule,
                    &channel.service_schedules,
                    chrono::Utc::now(),
                    lang,
                );
                if w.language == ChatLanguage::Es {
                    // The next opening is said in Portuguese or English
                    // only: Spanish says that it is closed.
                    if let Hours::Closed { next_opening } = &mut decision.hours {
                        *next_opening = None;
                    }
                }
                // Out of hours it is kept, while the channel keeps fewer
                // than MAX_KEPT (counted only when closed: no cost when open).
                let closed = !decision.is_open()
                    || channel
                        .ivr
                        .single_service()
                        .is_some_and(|s| decision.closed_services.contains(s));
                let hours = if closed {
                    let kept = self
                        .chats
                        .convs
                        .values()
                        .filter(|c| c.channel == channel_id && c.conv.kept_out_of_hours())
                        .count();
                    if kept >= ura_channels::MAX_KEPT {
                        tracing::warn!(channel = %channel_id, kept, "out of hours and the channel keeps its most conversations: this one ends");
                        None
                    } else {
                        Some(channel.hours.clone())
                    }
                } else {
                    None
                };
                let id = self.chats.next_id();
                let token = token();
                let customer = match &identity {
                    Some(i) => crate::engine::chats::Customer {
                        id: i.customer(channel_id),
                        identified: true,
                    },
                    None => crate::engine::chats::Customer {
                        id: ura_channels::identity::anonymous_customer(
                            &crate::engine::chats::token(),
                        ),
                        identified: false,
                    },
                };
                let start = Start {
                    hours,
                    lang: w.language,
                    welcome: w.welcome.to_string(),
                    closing: w.closing.to_string(),
                    started: w.started,
                    ivr: channel.ivr.clone(),
                    decision,
                };
                let _ = tx.try_send(
                    serde_json::json!({"type": "started", "conversation": token}).to_string(),
                );
                tracing::info!(conversation = %id, channel = %channel_id, customer = %customer.id, "web chat conversation started");
                self.chats.subs.insert(
                    sub,
                    Sub {
                        tx,
                        kind: SubKind::Visitor(id),
                    },
                );
                self.chats.by_token.insert(token.clone(), id);
                self.chats.open += 1;
                self.counters
                    .chats_started
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.counters
                    .chats_open
                    .store(self.chats.open, std::sync::atomic::Ordering::Relaxed);
                self.chats
                    .sweep_at
                    .get_or_insert(now + crate::engine::chats::SWEEP);
                self.chats.convs.insert(
                    id,
                    Conv {
                        conv: Conversation::new(id, start, clock(now)),
                        channel: channel_id.to_string(),
                        token,
                        visitor,
                        task: None,
                        queue: None,
                        agent: None,
                        visitors: [sub].into_iter().collect(),
                        read_by_agent: 0,
                        read_by_visitor: 0,
                        record_id: crate::engine::chats::token(),
                        started_at: super::wall_clock(),
                        opening_at: None,
                        customer,
                    },
                );
                if let Some(conv) = self.chats.convs.get_mut(&id) {
                    conv.conv.set_survey(
                        channel.config.kind == ura_channels::ChannelType::Webchat
                            && channel.config.webchat.survey,
                    );
                }
                self.chat_flush(now, id);
            }
        }
    }

    fn desk_attach(
        &mut self,
        now: Instant,
        sub: SubId,
        ext: &str,
        tx: crate::engine::chats::Outbox,
    ) {
        let Some(agent) = self.queues.agent(ext) else {
            let _ = tx.try_send(error_frame("unknown_agent", "no such agent", None));
            return;
        };
        self.chats.subs.insert(
            sub,
            Sub {
                tx,
                kind: SubKind::Desk(agent),
            },
        );
        self.chats.desks.entry(agent).or_default().insert(sub);
        let _ = self
            .queues
            .router
            .set_reachable(now, agent, Channel::Chat, true);
        let name = self
            .config
            .routing
            .agents
            .get(ext)
            .map_or(ext.to_string(), |a| a.name.clone());
        let state = self
            .queues
            .router
            .agent_state(agent)
            .map_or("logged-out".to_string(), |s| state_name(&s));
        let mut queues: Vec<&String> = self.config.routing.queues.keys().collect();
        queues.sort();
        let agents: Vec<serde_json::Value> = self
            .config
            .routing
            .agents
            .iter()
            .filter(|(e, _)| e.as_str() != ext)
            .map(|(e, a)| serde_json::json!({"ext": e, "name": a.name}))
            .collect();
        let supervisor = self.is_supervisor(ext);
        let mut frames = vec![serde_json::json!({
            "type": "hello", "agent": ext, "name": name, "state": state,
            "queues": queues, "agents": agents, "supervisor": supervisor,
        })
        .to_string()];
        let mut mine: Vec<_> = self
            .chats
            .convs
            .iter()
            .filter(|(_, c)| c.agent == Some(agent) && is_open(c.conv.phase()))
            .map(|(id, c)| (*id, desk_conversation(*id, c).to_string()))
            .collect();
        mine.sort_by_key(|(id, _)| *id);
        frames.extend(mine.into_iter().map(|(_, f)| f));
        for (offer, (c, a)) in &self.chats.offers {
            if *a == agent {
                if let Some(conv) = self.chats.convs.get(c) {
                    frames.push(offer_frame(offer.0, *c, conv));
                }
            }
        }
        for f in frames {
            self.chats.send(sub, &f);
        }
        if supervisor {
            self.supervisor_attached(now, sub);
        }
    }

    /// The agent's last desk closed: no more chats offered to them.
    pub(super) fn desk_gone(&mut self, now: Instant, agent: AgentId) {
        let _ = self
            .queues
            .router
            .set_reachable(now, agent, Channel::Chat, false);
    }

    fn desk_command(&mut self, now: Instant, sub: SubId, cmd: DeskCommand) {
        let Some(SubKind::Desk(agent)) = self.chats.subs.get(&sub).map(|s| s.kind.clone()) else {
            return;
        };
        let ext = self.queues.ext(agent).to_string();
        let fail = |chats: &mut crate::engine::chats::Chats, code: &str, message: String| {
            chats.send(sub, &error_frame(code, &message, None));
        };
        match cmd {
            DeskCommand::Available => {
                let state = self.queues.router.agent_state(agent);
                let cmd = match state {
                    Some(AgentState::LoggedOut) => AgentCommand::Login,
                    Some(AgentState::Paused(_)) => AgentCommand::Resume,
                    _ => return,
                };
                if let Err(e) = self.queues.command(now, &ext, &cmd) {
                    fail(&mut self.chats, "refused", e.to_string());
                }
            }
            DeskCommand::Pause(reason) => {
                if self.queues.router.agent_state(agent) == Some(AgentState::LoggedOut) {
                    let _ = self.queues.command(now, &ext, &AgentCommand::Login);
                }
                let reason = if reason.trim().is_empty() {
                    "pause".to_string()
                } else {
                    reason.chars().take(64).collect()
                };
                if let Err(e) = self.queues.command(now, &ext, &AgentCommand::Pause(reason)) {
                    fail(&mut self.chats, "refused", e.to_string());
                }
            }
            DeskCommand::Accept(offer) => {
                if self.chats.offers.get(&offer).map(|(_, a)| *a) != Some(agent) {
                    fail(
                        &mut self.chats,
                        "offer_gone",
                        "this conversation is no longer offered to you".into(),
                    );
                    return;
                }
                if let Err(e) = self.queues.router.offer_accepted(now, offer) {
                    self.chats.offers.remove(&offer);
                    fail(&mut self.chats, "offer_gone", e.to_string());
                }
            }
            DeskCommand::Text {
                conversation,
                text,
                client_id,
            } => {
                let name = self.agent_name(&ext);
                let result = match self.chats.convs.get_mut(&conversation) {
                    Some(c) if c.agent == Some(agent) => {
                        c.conv
                            .agent_text(clock(now), &name, &text, client_id.as_deref())
                    }
                    _ => Err(ChannelsError::NotYourConversation),
                };
                if let Err(e) = result {
                    let frame = error_frame(refusal(&e), &e.to_string(), client_id.as_deref());
                    self.chats.send(sub, &frame);
                }
                self.chat_flush(now, conversation);
            }
            DeskCommand::Hold { conversation, on } => {
                let result = match self.chats.convs.get_mut(&conversation) {
                    Some(c) if c.agent == Some(agent) => c.conv.hold(clock(now), on),
                    _ => Err(ChannelsError::NotYourConversation),
                };
                match result {
                    Ok(()) => {
                        let frame = serde_json::json!({
                            "type": "hold", "conversation": conversation.0, "on": on,
                        })
                        .to_string();
                        self.desk_send(now, agent, &frame);
                    }
                    Err(e) => fail(&mut self.chats, refusal(&e), e.to_string()),
                }
                self.chat_flush(now, conversation);
            }
            DeskCommand::Read { conversation, seq } => {
                let Some(c) = self
                    .chats
                    .convs
                    .get_mut(&conversation)
                    .filter(|c| c.agent == Some(agent))
                else {
                    return;
                };
                let seq = seq.min(c.conv.last_seq().0);
                if seq > c.read_by_agent {
                    c.read_by_agent = seq;
                    let frame = serde_json::json!({"type": "read", "seq": seq}).to_string();
                    for sub in self.chats.visitor_subs(conversation) {
                        self.chats.send(sub, &frame);
                    }
                }
            }
            DeskCommand::Typing(conversation) => {
                let name = self.agent_name(&ext);
                if self
                    .chats
                    .convs
                    .get(&conversation)
                    .is_some_and(|c| c.agent == Some(agent) && c.conv.phase() == Phase::Connected)
                {
                    let frame =
                        serde_json::json!({"type": "typing", "from": "agent", "name": name})
                            .to_string();
                    for sub in self.chats.visitor_subs(conversation) {
                        self.chats.send(sub, &frame);
                    }
                }
            }
            DeskCommand::Transfer { conversation, to } => {
                let task = match self.chats.convs.get(&conversation) {
                    Some(c) if c.agent == Some(agent) && c.conv.phase() == Phase::Connected => {
                        c.task
                    }
                    _ => None,
                };
                let Some(task) = task else {
                    fail(
                        &mut self.chats,
                        "not_yours",
                        "the conversation is not with you".into(),
                    );
                    return;
                };
                let result = if let Some(queue) = self.queues.queue(&to) {
                    self.queues
                        .router
                        .transfer_to_queue(now, task, queue)
                        .map(|()| Some(to.clone()))
                } else if let Some(target) = self.queues.agent(&to).filter(|a| *a != agent) {
                    self.queues
                        .router
                        .offer_direct(now, task, target)
                        .map(|()| None)
                } else {
                    fail(
                        &mut self.chats,
                        "unknown_target",
                        format!("no queue or other agent named {to:?}"),
                    );
                    return;
                };
                match result {
                    Ok(queue) => {
                        tracing::info!(conversation = %conversation, from = %ext, %to, "conversation transferred");
                        if let Some(c) = self.chats.convs.get_mut(&conversation) {
                            c.agent = None;
                            if queue.is_some() {
                                c.queue = queue;
                            }
                            c.conv.transferred(clock(now));
                        }
                        let frame = serde_json::json!({
                            "type": "closed", "conversation": conversation.0, "reason": "transferred",
                        })
                        .to_string();
                        self.desk_send(now, agent, &frame);
                        self.chat_flush(now, conversation);
                    }
                    Err(e) => fail(
                        &mut self.chats,
                        "transfer_refused",
                        format!("transfer to {to} refused: {e}"),
                    ),
                }
            }
            DeskCommand::Close(conversation) => {
                match self.chats.convs.get_mut(&conversation) {
                    Some(c) if c.agent == Some(agent) => c.conv.close(clock(now), Closer::Agent),
                    _ => fail(
                        &mut self.chats,
                        "not_yours",
                        "the conversation is not with you".into(),
                    ),
                }
                self.chat_flush(now, conversation);
            }
        }
    }

    fn agent_name(&self, ext: &str) -> String {
        self.config
            .routing
            .agents
            .get(ext)
            .map_or(ext.to_string(), |a| a.name.clone())
    }

    /// Carries out what a conversation asked for.
    pub(super) fn chat_flush(&mut self, now: Instant, c: ConversationId) {
        loop {
            let Some(conv) = self.chats.convs.get_mut(&c) else {
                return;
            };
            let Some(out) = conv.conv.poll_output() else {
                return;
            };
            let agent = conv.agent;
            match out {
                Output::Message(m) => {
                    let frame = message_json(&m, None).to_string();
                    for sub in self.chats.visitor_subs(c) {
                        self.chats.send(sub, &frame);
                    }
                    if let Some(agent) = agent {
                        let frame = message_json(&m, Some(c)).to_string();
                        self.desk_send(now, agent, &frame);
                    }
                }
                Output::Phase(_) | Output::Position(_) => {
                    let frame = status_frame(&conv.conv);
                    if out == Output::Phase(Phase::AfterHours) {
                        self.chat_keep(now, c);
                    }
                    for sub in self.chats.visitor_subs(c) {
                        self.chats.send(sub, &frame);
                    }
                }
                Output::Enqueue(service) => self.chat_enqueue(now, c, service),
                Output::Ended(by) => {
                    let (task, connected) = (conv.task.take(), conv.agent.is_some());
                    if let Some(at) = conv.opening_at.take() {
                        self.chats.openings.remove(&(at, c));
                    }
                    tracing::info!(conversation = %c, ?by, "web chat conversation ended");
                    self.chats.files.ended(c);
                    if let Some(task) = task {
                        self.chats.by_task.remove(&task);
                        let _ = if connected {
                            self.queues.router.task_ended(now, task)
                        } else {
                            self.queues.router.abandon(now, task)
                        };
                    }
                    if let Some(agent) = agent {
                        let frame =
                            serde_json::json!({"type": "closed", "conversation": c.0}).to_string();
                        self.desk_send(now, agent, &frame);
                    }
                    self.write_record(c, by, agent);
                    self.mail_transcript(c);
                    self.chats.closed(c);
                    self.counters
                        .chats_open
                        .store(self.chats.open, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    /// Hands an ended conversation to the writer (never waits).
    fn write_record(&mut self, c: ConversationId, by: Closer, agent: Option<AgentId>) {
        let (Some(conv), Some(tx)) = (self.chats.convs.get(&c), &self.chat_records) else {
            return;
        };
        let messages: Vec<serde_json::Value> = conv
            .conv
            .after(ura_channels::Seq(0))
            .iter()
            .map(|m| {
                let mut v = message_json(m, None);
                if let Some(o) = v.as_object_mut() {
                    o.remove("type");
                    o.remove("client_id");
                }
                v
            })
            .collect();
        let record = ura_store::ChatRecord {
            id: conv.record_id.clone(),
            channel: conv.channel.clone(),
            started_at: conv.started_at.clone(),
            ended_at: super::wall_clock(),
            visitor: serde_json::to_string(&conv.visitor).unwrap_or_default(),
            queue: conv.queue.clone(),
            agent: agent.map(|a| self.queues.ext(a).to_string()),
            outcome: match by {
                Closer::Agent => "agent",
                Closer::Visitor => "visitor",
                Closer::Flow => "flow",
                Closer::System => "system",
            }
            .into(),
            messages: serde_json::Value::Array(messages).to_string(),
            customer: conv.customer.id.clone(),
            rating: None,
            rating_comment: None,
            rated_at: None,
        };
        if tx.try_send(ChatWrite::Record(Box::new(record))).is_err() {
            tracing::warn!(conversation = %c, "conversation record lost: the writer's queue is full");
        }
    }

    /// Hands the transcript to the mailer (never waits) when the channel
    /// sends transcripts and the visitor gave an e-mail.
    fn mail_transcript(&mut self, c: ConversationId) {
        let (Some(conv), Some(tx)) = (self.chats.convs.get(&c), &self.mailer) else {
            return;
        };
        let Some(channel) = self.routing.channel(&conv.channel) else {
            return;
        };
        let w = &channel.config.webchat;
        let (Some(smtp), Some(to)) = (&channel.smtp, conv.visitor.get("email")) else {
            return;
        };
        if !w.transcript {
            return;
        }
        let title = if w.title.trim().is_empty() {
            channel.config.description.clone()
        } else {
            w.title.clone()
        };
        let mail = crate::engine::transcripts::TranscriptMail {
            conversation: c.to_string(),
            smtp: smtp.clone(),
            to: to.clone(),
            lang: w.language,
            title,
            messages: conv.conv.after(ura_channels::Seq(0)).to_vec(),
        };
        crate::engine::transcripts::enqueue(tx, &self.counters.transcripts, mail);
    }

    fn desk_send(&mut self, now: Instant, agent: AgentId, frame: &str) {
        for sub in self.chats.desk_subs(agent) {
            if let Some(gone) = self.chats.send(sub, frame) {
                self.desk_gone(now, gone);
            }
        }
    }

    fn chat_enqueue(&mut self, now: Instant, c: ConversationId, service: ura_ivr::ServiceId) {
        let Some(conv) = self.chats.convs.get_mut(&c) else {
            return;
        };
        let queue_name = self
            .routing
            .channel(&conv.channel)
            .and_then(|ch| ch.queues.get(&service).cloned());
        let queue = queue_name.as_deref().and_then(|q| self.queues.queue(q));
        let (Some(queue_name), Some(queue)) = (queue_name, queue) else {
            // A service without a queue has nobody to answer text.
            conv.conv.queue_failed(clock(now), QueueResult::NoAgents);
            return;
        };
        let task = self.queues.new_task();
        match self
            .queues
            .router
            .enqueue(now, TaskSpec::new(task, queue, Channel::Chat))
        {
            Ok(()) => {
                tracing::info!(conversation = %c, queue = %queue_name, %task, "conversation waits in the queue");
                conv.task = Some(task);
                conv.queue = Some(queue_name);
                self.chats.by_task.insert(task, c);
            }
            Err(e) => {
                tracing::info!(conversation = %c, queue = %queue_name, error = %e, "queue refused the conversation");
                conv.conv.queue_failed(clock(now), QueueResult::NoAgents);
            }
        }
    }

    /// A router decision about a conversation's task (or an agent's
    /// state, which desks show). False when it is not about chats.
    pub(super) fn chat_router(&mut self, now: Instant, out: &RouterOutput) -> bool {
        match *out {
            RouterOutput::Offer {
                offer, task, agent, ..
            } if self.chats.owns(task) => {
                let c = self.chats.by_task[&task];
                if self.chats.desk_subs(agent).is_empty() {
                    let _ = self
                        .queues
                        .router
                        .offer_failed(now, offer, OfferFailure::Unreachable);
                    return true;
                }
                self.chats.offers.insert(offer, (c, agent));
                if let Some(conv) = self.chats.convs.get(&c) {
                    let frame = offer_frame(offer.0, c, conv);
                    tracing::info!(conversation = %c, agent = %self.queues.ext(agent), "conversation offered");
                    self.desk_send(now, agent, &frame);
                }
                true
            }
            RouterOutput::OfferCancelled {
                offer, task, agent, ..
            } if self.chats.owns(task) || self.chats.offers.contains_key(&offer) => {
                self.chats.offers.remove(&offer);
                let frame =
                    serde_json::json!({"type": "offer_cancelled", "offer": offer.0}).to_string();
                self.desk_send(now, agent, &frame);
                true
            }
            RouterOutput::TaskAssigned { task, agent, .. } if self.chats.owns(task) => {
                let c = self.chats.by_task[&task];
                self.chats.offers.retain(|_, (oc, _)| *oc != c);
                let name = self.agent_name(self.queues.ext(agent));
                let Some(conv) = self.chats.convs.get_mut(&c) else {
                    return true;
                };
                conv.agent = Some(agent);
                let frame = desk_conversation(c, conv).to_string();
                conv.conv.agent_joined(clock(now), &name);
                self.desk_send(now, agent, &frame);
                self.chat_flush(now, c);
                true
            }
            RouterOutput::TaskLeft { task, reason, .. } if self.chats.owns(task) => {
                let c = self
                    .chats
                    .by_task
                    .remove(&task)
                    .unwrap_or(ConversationId(0));
                self.chats.offers.retain(|_, (oc, _)| *oc != c);
                if let Some(conv) = self.chats.convs.get_mut(&c) {
                    conv.task = None;
                    let result = match reason {
                        LeaveReason::Timeout => QueueResult::WaitedTooLong,
                        _ => QueueResult::NoAgents,
                    };
                    if conv.conv.phase() == Phase::Waiting {
                        conv.conv.queue_failed(clock(now), result);
                    }
                }
                self.chat_flush(now, c);
                true
            }
            RouterOutput::Announce { task, .. } => self.chats.owns(task),
            RouterOutput::AgentState { agent, ref state } => {
                let frame =
                    serde_json::json!({"type": "state", "state": state_name(state)}).to_string();
                self.desk_send(now, agent, &frame);
                // The calls log it too.
                false
            }
            _ => false,
        }
    }

    /// Closes the conversations visitors left in the menu (see
    /// `Conversation::abandoned`); runs every [`crate::engine::chats::SWEEP`]
    /// while conversations are open.
    pub(super) fn chat_sweep(&mut self, now: Instant) {
        if self.chats.sweep_at.is_none_or(|at| at > now) {
            return;
        }
        let left: Vec<ConversationId> = self
            .chats
            .convs
            .iter()
            .filter(|(_, c)| c.conv.abandoned(now, !c.visitors.is_empty()))
            .map(|(id, _)| *id)
            .collect();
        for c in left {
            tracing::info!(conversation = %c, "visitor left the conversation in the menu: closed");
            if let Some(conv) = self.chats.convs.get_mut(&c) {
                conv.conv.close(clock(now), Closer::System);
            }
            self.chat_flush(now, c);
        }
        self.chats.sweep_at = (self.chats.open > 0).then_some(now + crate::engine::chats::SWEEP);
    }

    /// A conversation is kept out of hours: its timer at its service's
    /// opening (the wall clock's distance to it, on the monotonic clock).
    fn chat_keep(&mut self, now: Instant, c: ConversationId) {
        let Some(conv) = self.chats.convs.get_mut(&c) else {
            return;
        };
        if let Some(old) = conv.opening_at.take() {
            self.chats.openings.remove(&(old, c));
        }
        let Some(opens_ms) = conv.conv.opens_at() else {
            return;
        };
        let wait = opens_ms.saturating_sub(clock(now).unix_ms).max(0);
        let at = now + std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        tracing::info!(conversation = %c, channel = %conv.channel, wait_s = wait / 1000, "conversation kept out of hours until its service opens");
        conv.opening_at = Some(at);
        self.chats.openings.insert((at, c));
    }

    /// Kept conversations whose service opened join its queue (the
    /// visitor is told, and their position).
    pub(super) fn chat_openings(&mut self, now: Instant) {
        let mut any = false;
        while let Some(&(at, c)) = self.chats.openings.first() {
            if at > now {
                break;
            }
            self.chats.openings.pop_first();
            any = true;
            let Some(conv) = self.chats.convs.get_mut(&c) else {
                continue;
            };
            conv.opening_at = None;
            conv.conv.handle_timeout(clock(now));
            if conv.conv.phase() == Phase::AfterHours {
                // Not open yet by the wall clock (it was early, or the
                // clock moved): again at the new opening, a second later
                // at the soonest.
                let retry = conv.conv.opens_at().map(|ms| {
                    let wait = ms.saturating_sub(clock(now).unix_ms).max(1_000);
                    now + std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(1_000))
                });
                if let Some(at) = retry {
                    conv.opening_at = Some(at);
                    self.chats.openings.insert((at, c));
                }
            } else {
                tracing::info!(conversation = %c, "its service opened: the kept conversation joins the queue");
            }
            self.chat_flush(now, c);
        }
        if any {
            self.chat_positions(now);
        }
    }

    /// Adds the chats to the live view (`/api/v1/live`): each waiting task
    /// gets its `channel` (`voice` or `chat`; a chat also its
    /// `conversation` and `chat_channel`), each queue the conversations
    /// kept out of hours for it (`after_hours`), and each agent the chats
    /// they have open (`chats_open`, `chats`).
    pub(super) fn chat_live(&self, view: &mut serde_json::Value) {
        use serde_json::json;
        let mut kept: std::collections::HashMap<String, Vec<serde_json::Value>> =
            std::collections::HashMap::new();
        let mut by_agent: std::collections::HashMap<AgentId, Vec<u64>> =
            std::collections::HashMap::new();
        for (id, c) in &self.chats.convs {
            if let Some(service) = c.conv.kept_for() {
                let queue = self
                    .routing
                    .channel(&c.channel)
                    .and_then(|ch| ch.queues.get(service).cloned());
                if let Some(queue) = queue {
                    kept.entry(queue).or_default().push(json!({
                        "conversation": id.0,
                        "chat_channel": c.channel,
                        "opens_at_ms": c.conv.opens_at(),
                    }));
                }
            }
            if let (Some(agent), Phase::Connected) = (c.agent, c.conv.phase()) {
                by_agent.entry(agent).or_default().push(id.0);
            }
        }
        if let Some(queues) = view.get_mut("queues").and_then(|q| q.as_object_mut()) {
            for (name, q) in queues.iter_mut() {
                if let Some(waiting) = q.get_mut("waiting").and_then(|w| w.as_array_mut()) {
                    for w in waiting {
                        let task = w["task"].as_u64().map(ura_router::TaskId);
                        let conv = task.and_then(|t| self.chats.by_task.get(&t));
                        match conv {
                            Some(c) => {
                                w["channel"] = json!("chat");
                                w["conversation"] = json!(c.0);
                                w["chat_channel"] =
                                    json!(self.chats.convs.get(c).map(|c| c.channel.as_str()));
                            }
                            None => w["channel"] = json!("voice"),
                        }
                    }
                }
                let mut mine = kept.remove(name).unwrap_or_default();
                mine.sort_by_key(|v| v["conversation"].as_u64());
                q["after_hours"] = json!(mine);
            }
        }
        if let Some(agents) = view.get_mut("agents").and_then(|a| a.as_array_mut()) {
            for a in agents {
                let agent = a["agent"].as_str().and_then(|ext| self.queues.agent(ext));
                let mut chats = agent
                    .and_then(|id| by_agent.get(&id).cloned())
                    .unwrap_or_default();
                chats.sort_unstable();
                a["chats_open"] = json!(chats.len());
                a["chats"] = json!(chats);
            }
        }
    }

    /// Tells waiting visitors where they are (only when it changed).
    pub(super) fn chat_positions(&mut self, now: Instant) {
        let waiting: Vec<_> = self
            .chats
            .by_task
            .iter()
            .filter_map(|(t, c)| Some((*c, self.queues.router.position(*t)?)))
            .collect();
        for (c, position) in waiting {
            if let Some(conv) = self.chats.convs.get_mut(&c) {
                conv.conv.set_position(position);
            }
            self.chat_flush(now, c);
        }
    }
}

fn offer_frame(offer: u64, c: ConversationId, conv: &Conv) -> String {
    serde_json::json!({
        "type": "offer",
        "offer": offer,
        "conversation": c.0,
        "channel": conv.channel,
        "queue": conv.queue,
        "visitor": conv.visitor,
        "customer": conv.customer.id,
        "identified": conv.customer.identified,
    })
    .to_string()
}

/// Compares secrets in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
