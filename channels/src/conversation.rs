//! One text conversation, sans-I/O: the message log (numbered for
//! resume), the text menu (the IVR's own [`Flow`], its prompts written as
//! text), the waiting notices, the agent, and the end.
//!
//! Feed it inputs with a [`Now`]; drain [`Conversation::poll_output`]
//! after each. It never reads a clock, and no input panics.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use ura_ivr::{BuiltinPrompt, Decision, Flow, Ivr, PromptRef, QueueResult, ServiceId};

use crate::attachments::{Attachment, MAX_VISITOR_ATTACHMENTS};
use crate::config::{ChatLanguage, StartedNotice};
use crate::error::ChannelsError;
use crate::hours::{utc, OpeningHours};
use crate::ids::{ConversationId, Now, Seq};
use crate::survey::{Rating, SURVEY_WINDOW};
use crate::texts;

/// Longest message, in characters.
pub const MAX_TEXT: usize = 4000;
/// Most messages one conversation keeps; past it, more are refused.
pub const MAX_MESSAGES: usize = 5000;
/// A visitor may send this many messages at once, then one per
/// [`VISITOR_RATE`]'s interval (a flood is refused, nothing else is).
pub const VISITOR_BURST: u32 = 10;
/// One more message allowed per this much time.
pub const VISITOR_RATE: std::time::Duration = std::time::Duration::from_millis(500);
/// A conversation still in the menu whose visitor has gone (no socket)
/// and said nothing for this long is closed: the visitor left the page.
pub const MENU_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Longest client id (the sender's own id of a message, for resends).
pub const MAX_CLIENT_ID: usize = 64;

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// The visitor (customer).
    Visitor,
    /// An agent, by name.
    Agent(String),
    /// ura: the welcome, the menu, notices.
    System,
}

/// One message of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its place: 1, 2, 3…
    pub seq: Seq,
    /// Who wrote it.
    pub author: Author,
    /// The text, as written (shown as text, never as markup).
    pub text: String,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The sender's own id for it, when it gave one: a resend with the
    /// same id is the same message.
    pub client_id: Option<String>,
    /// A file sent as this message (its text is the file's name).
    pub attachment: Option<Attachment>,
}

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// In the text menu.
    Menu,
    /// Waiting in a queue for an agent.
    Waiting,
    /// Kept out of hours: it joins its service's queue when the service
    /// opens (see [`Conversation::handle_timeout`]).
    AfterHours,
    /// With an agent.
    Connected,
    /// Over.
    Closed,
}

impl Phase {
    /// As the wire says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Menu => "menu",
            Phase::Waiting => "waiting",
            Phase::AfterHours => "after_hours",
            Phase::Connected => "connected",
            Phase::Closed => "closed",
        }
    }
}

/// Who ended a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closer {
    /// The agent (the closing message is sent).
    Agent,
    /// The visitor left.
    Visitor,
    /// The flow ended it (out of hours, no agent, too many invalid options).
    Flow,
    /// ura (the channel was removed, ura stops).
    System,
}

/// What the conversation asks of the engine, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A new message: deliver it to whoever follows the conversation.
    Message(Message),
    /// Put the conversation in this service's queue; answer with
    /// [`Conversation::agent_joined`] or [`Conversation::queue_failed`].
    Enqueue(ServiceId),
    /// The phase changed.
    Phase(Phase),
    /// The position in the queue changed (1 = next).
    Position(usize),
    /// The conversation is over (after its last messages).
    Ended(Closer),
}

/// How a conversation starts.
#[derive(Debug, Clone)]
pub struct Start {
    /// The language of ura's texts.
    pub lang: ChatLanguage,
    /// The channel's welcome (empty: the built-in one).
    pub welcome: String,
    /// The channel's closing message (empty: the built-in one).
    pub closing: String,
    /// What is said when an agent joins.
    pub started: StartedNotice,
    /// The text IVR (see [`ura_ivr::IvrConfig::without_prompts`]), or one
    /// made with [`ura_ivr::IvrConfig::straight_to`] for a channel that
    /// names a service.
    pub ivr: Arc<Ivr>,
    /// The hours decision, taken by the engine when the conversation starts.
    pub decision: Decision,
    /// The channel's hours, to keep a conversation that arrives out of
    /// hours until its service opens. `None`: out of hours, it is told the
    /// hours and ends (as a call; the engine passes `None` when the
    /// channel already keeps [`crate::MAX_KEPT`]).
    pub hours: Option<Arc<OpeningHours>>,
}

/// One conversation.
#[derive(Debug)]
pub struct Conversation {
    id: ConversationId,
    lang: ChatLanguage,
    welcome: String,
    closing: String,
    started: StartedNotice,
    flow: Flow,
    phase: Phase,
    agent: Option<String>,
    position: Option<usize>,
    log: Vec<Message>,
    client_ids: HashMap<String, Seq>,
    out: VecDeque<Output>,
    /// The visitor's allowance (messages) and when it was counted.
    allowance: (u32, std::time::Instant),
    /// When someone last wrote (or it started).
    last_activity: std::time::Instant,
    /// The agent put it on hold.
    on_hold: bool,
    /// Started out of hours and kept: these hours say when it is served.
    keep: Option<Arc<OpeningHours>>,
    /// What is said after the welcome when it started out of hours (the
    /// closed text, the next opening).
    closed_notice: Vec<String>,
    /// The service a kept conversation waits for, and when it opens
    /// (Unix ms).
    kept: Option<(ServiceId, i64)>,
    /// It joined a queue once (no longer kept from the start).
    served: bool,
    /// Files the visitor sent.
    visitor_files: u32,
    /// The channel offers the satisfaction survey.
    survey: bool,
    /// When it ended and who ended it.
    ended: Option<(std::time::Instant, Closer)>,
    /// The visitor's rating, once given.
    rating: Option<Rating>,
}

impl Conversation {
    /// A new conversation: the welcome, then the menu (or the closed text).
    ///
    /// Out of hours, with [`Start::hours`] given, it is kept: the welcome,
    /// the closed text and the next opening (the IVR's own words), then
    /// the menu as usual; the service chosen (or the channel's only one)
    /// is waited for in [`Phase::AfterHours`] until it opens.
    pub fn new(id: ConversationId, start: Start, now: Now) -> Conversation {
        let mut decision = start.decision;
        let mut keep = None;
        let mut closed_notice = Vec::new();
        if let Some(hours) = start.hours.filter(|_| {
            !decision.is_open()
                || start
                    .ivr
                    .single_service()
                    .is_some_and(|s| decision.closed_services.contains(s))
        }) {
            let at = utc(now.unix_ms);
            let single = start.ivr.single_service();
            if let Some(next) = hours.next_open(single, at) {
                let closed = if hours.channel.is_open(at) {
                    BuiltinPrompt::ServiceClosed
                } else {
                    BuiltinPrompt::Closed
                };
                closed_notice.push(texts::builtin(start.lang, closed).to_string());
                let lang = match start.lang {
                    ChatLanguage::PtBr => Some(ura_ivr::Lang::PtBr),
                    ChatLanguage::En => Some(ura_ivr::Lang::En),
                    // The next opening is said in Portuguese or English
                    // only (as for calls).
                    ChatLanguage::Es => None,
                };
                if let Some(lang) = lang.filter(|_| start.ivr.config().say_next_opening) {
                    let tz = hours.timezone(single);
                    let words = ura_ivr::describe_next_opening(
                        next.with_timezone(&tz),
                        at.with_timezone(&tz),
                        lang,
                    );
                    closed_notice.push(texts::next_opening(start.lang, &words));
                }
                // The menu runs as when open; the choice waits for its hours.
                decision = Decision::open();
                keep = Some(hours);
            }
        }
        let mut c = Conversation {
            id,
            lang: start.lang,
            welcome: start.welcome,
            closing: start.closing,
            started: start.started,
            flow: Flow::new(start.ivr, decision),
            phase: Phase::Menu,
            agent: None,
            position: None,
            log: Vec::new(),
            client_ids: HashMap::new(),
            out: VecDeque::new(),
            allowance: (VISITOR_BURST, now.mono),
            last_activity: now.mono,
            on_hold: false,
            keep,
            closed_notice,
            kept: None,
            served: false,
            visitor_files: 0,
            survey: true,
            ended: None,
            rating: None,
        };
        c.flow.answered(now.mono);
        c.drive(now);
        c
    }

    /// Whether the survey is offered when it ends (on unless the channel
    /// turned it off).
    pub fn set_survey(&mut self, on: bool) {
        self.survey = on;
    }

    /// Whether a rating is awaited: it is over, a person ended it (the
    /// agent or the visitor), the channel offers the survey, and it was
    /// not rated yet. (The window is checked by [`Conversation::rate`].)
    pub fn survey_pending(&self) -> bool {
        self.survey
            && self.rating.is_none()
            && matches!(self.ended, Some((_, Closer::Agent | Closer::Visitor)))
    }

    /// The visitor's rating, once given.
    pub fn rating(&self) -> Option<&Rating> {
        self.rating.as_ref()
    }

    /// The visitor rates the conversation: a `score` of 1 to 5 and an
    /// optional comment, once, within [`SURVEY_WINDOW`] of the end. Bad
    /// values are refused naming the field (`score`, `comment`).
    pub fn rate(
        &mut self,
        now: Now,
        score: i64,
        comment: Option<&str>,
    ) -> Result<Rating, ChannelsError> {
        if self.rating.is_some() {
            return Err(ChannelsError::AlreadyRated);
        }
        if !self.survey_pending() {
            return Err(ChannelsError::NoSurvey);
        }
        let rating = Rating::check(score, comment, now.unix_ms)?;
        if let Some((at, _)) = self.ended {
            if now.mono.saturating_duration_since(at) > SURVEY_WINDOW {
                return Err(ChannelsError::SurveyOver);
            }
        }
        self.rating = Some(rating.clone());
        Ok(rating)
    }

    /// Its id.
    pub fn id(&self) -> ConversationId {
        self.id
    }

    /// Where it is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The agent's name, once one joined.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The position in the queue while waiting.
    pub fn position(&self) -> Option<usize> {
        self.position.filter(|_| self.phase == Phase::Waiting)
    }

    /// Whether it started out of hours and is kept (in the menu, or
    /// waiting for its service to open): what [`crate::MAX_KEPT`] counts.
    pub fn kept_out_of_hours(&self) -> bool {
        self.keep.is_some()
            && (self.phase == Phase::AfterHours || (self.phase == Phase::Menu && !self.served))
    }

    /// The service a kept conversation waits for ([`Phase::AfterHours`]).
    pub fn kept_for(&self) -> Option<&ServiceId> {
        self.kept
            .as_ref()
            .filter(|_| self.phase == Phase::AfterHours)
            .map(|(s, _)| s)
    }

    /// When (Unix milliseconds) a kept conversation's service opens: call
    /// [`Conversation::handle_timeout`] then.
    pub fn opens_at(&self) -> Option<i64> {
        self.kept
            .as_ref()
            .filter(|_| self.phase == Phase::AfterHours)
            .map(|(_, at)| *at)
    }

    /// Time passed: a kept conversation whose service is open now joins
    /// its queue ([`Output::Enqueue`], the waiting notice); one still
    /// closed (a clock that was early) moves its [`Conversation::opens_at`].
    pub fn handle_timeout(&mut self, now: Now) {
        let (Some(hours), Some((service, _))) = (self.keep.clone(), self.kept.clone()) else {
            return;
        };
        if self.phase != Phase::AfterHours {
            return;
        }
        let at = utc(now.unix_ms);
        if hours.is_open(Some(&service), at) {
            self.enqueue(now, service);
            return;
        }
        match hours.next_open(Some(&service), at) {
            Some(next) => self.kept = Some((service, next.timestamp_millis())),
            // Its hours were taken away (never opens): said, and the end.
            None => {
                let text = texts::builtin(self.lang, BuiltinPrompt::ServiceClosed).to_string();
                self.system(now, text);
                self.set_phase(Phase::Closed);
                self.end(now, Closer::Flow);
            }
        }
    }

    /// The language of its texts.
    pub fn language(&self) -> ChatLanguage {
        self.lang
    }

    /// Every message after `seq` (all of them for `Seq(0)`), in order.
    pub fn after(&self, seq: Seq) -> &[Message] {
        let from = usize::try_from(seq.0)
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        &self.log[from..]
    }

    /// The last message's number.
    pub fn last_seq(&self) -> Seq {
        Seq(self.log.len() as u64)
    }

    /// Whether the visitor left it in the menu: still in the menu, no
    /// socket of the visitor's open (`visitor_here` false), and nothing
    /// written for [`MENU_IDLE`]. The engine then closes it.
    pub fn abandoned(&self, now: std::time::Instant, visitor_here: bool) -> bool {
        self.phase == Phase::Menu
            && !visitor_here
            && now.saturating_duration_since(self.last_activity) >= MENU_IDLE
    }

    /// The next output, if any; call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The visitor wrote. In the menu the text is the option; waiting, it
    /// waits in the log for the agent; with an agent, it goes to them. A
    /// resend (the same `client_id`) is the message already taken: its
    /// number again, nothing added.
    pub fn visitor_text(
        &mut self,
        now: Now,
        text: &str,
        client_id: Option<&str>,
    ) -> Result<Seq, ChannelsError> {
        if let Some(seq) = self.seen(client_id) {
            return Ok(seq);
        }
        self.spend(now)?;
        let seq = self.take(now, Author::Visitor, text, client_id)?;
        if self.phase == Phase::Menu {
            self.flow.text_entry(now.mono, text);
            self.drive(now);
        }
        Ok(seq)
    }

    /// The agent `name` wrote.
    pub fn agent_text(
        &mut self,
        now: Now,
        name: &str,
        text: &str,
        client_id: Option<&str>,
    ) -> Result<Seq, ChannelsError> {
        if self.phase != Phase::Connected {
            return Err(if self.phase == Phase::Closed {
                ChannelsError::Closed
            } else {
                ChannelsError::NotYourConversation
            });
        }
        if let Some(seq) = self.seen(client_id) {
            return Ok(seq);
        }
        self.take(now, Author::Agent(name.to_string()), text, client_id)
    }

    /// Whether a file may be sent now, by an agent or by the visitor (what
    /// [`Conversation::attachment`] checks; asked before the file's bytes
    /// are taken).
    pub fn attachment_allowed(&self, by_agent: bool) -> Result<(), ChannelsError> {
        if self.phase == Phase::Closed {
            return Err(ChannelsError::Closed);
        }
        if by_agent && self.phase != Phase::Connected {
            return Err(ChannelsError::NotYourConversation);
        }
        if !by_agent && self.visitor_files >= MAX_VISITOR_ATTACHMENTS {
            return Err(ChannelsError::TooManyAttachments {
                max: MAX_VISITOR_ATTACHMENTS,
            });
        }
        Ok(())
    }

    /// A file was sent: by the visitor (`agent` `None`) in any phase but
    /// the end, at most [`MAX_VISITOR_ATTACHMENTS`] of them; by the agent
    /// `agent` while with the visitor. It is a message whose text is the
    /// file's name; in the menu it is kept in the log but is no option.
    /// A resend (the same `client_id`) is the message already taken.
    pub fn attachment(
        &mut self,
        now: Now,
        agent: Option<&str>,
        file: Attachment,
        client_id: Option<&str>,
    ) -> Result<Seq, ChannelsError> {
        if let Some(seq) = self.seen(client_id) {
            return Ok(seq);
        }
        self.attachment_allowed(agent.is_some())?;
        let author = match agent {
            None => Author::Visitor,
            Some(name) => Author::Agent(name.to_string()),
        };
        let name = file.name.clone();
        let seq = self.take(now, author, &name, client_id)?;
        if agent.is_none() {
            self.visitor_files += 1;
        }
        if let Some(m) = self.log.last_mut() {
            m.attachment = Some(file.clone());
        }
        if let Some(Output::Message(m)) = self.out.back_mut() {
            m.attachment = Some(file);
        }
        Ok(seq)
    }

    /// The router says where it waits (1 = next).
    pub fn set_position(&mut self, position: usize) {
        if self.phase == Phase::Waiting && self.position != Some(position) {
            self.position = Some(position);
            self.out.push_back(Output::Position(position));
        }
    }

    /// An agent took it.
    pub fn agent_joined(&mut self, now: Now, name: &str) {
        if self.phase != Phase::Waiting {
            return;
        }
        self.flow.queue_result(now.mono, QueueResult::Answered);
        self.drive(now);
        self.agent = Some(name.to_string());
        self.set_phase(Phase::Connected);
        let notice = match self.started {
            StartedNotice::None => None,
            StartedNotice::Simple => Some(texts::started(self.lang, None)),
            StartedNotice::Agent => Some(texts::started(self.lang, Some(name))),
        };
        if let Some(text) = notice {
            self.system(now, text);
        }
    }

    /// The agent puts it on hold (`on`) or comes back: the visitor is
    /// told. Nothing else changes (the agent keeps it). Saying the same
    /// twice does nothing.
    pub fn hold(&mut self, now: Now, on: bool) -> Result<(), ChannelsError> {
        if self.phase != Phase::Connected {
            return Err(ChannelsError::NotYourConversation);
        }
        if self.on_hold != on {
            self.on_hold = on;
            self.system(now, texts::hold(self.lang, on).to_string());
        }
        Ok(())
    }

    /// Whether the agent has put it on hold.
    pub fn on_hold(&self) -> bool {
        self.on_hold
    }

    /// The agent transferred it (to a queue or another agent): it waits
    /// again, and the visitor is told.
    pub fn transferred(&mut self, now: Now) {
        if self.phase != Phase::Connected {
            return;
        }
        self.agent = None;
        self.position = None;
        self.on_hold = false;
        self.system(now, texts::transferred(self.lang).to_string());
        self.set_phase(Phase::Waiting);
    }

    /// The queue could not take it (nobody logged in, waited too long):
    /// the flow goes on (the no-answer text, its fallback or the end).
    pub fn queue_failed(&mut self, now: Now, result: QueueResult) {
        if self.phase != Phase::Waiting {
            return;
        }
        self.position = None;
        self.set_phase(Phase::Menu);
        self.flow.queue_result(now.mono, result);
        self.drive(now);
    }

    /// Ends it. The agent's close sends the closing message; the
    /// visitor's says they left. Closing twice does nothing.
    pub fn close(&mut self, now: Now, by: Closer) {
        if self.phase == Phase::Closed {
            return;
        }
        match by {
            Closer::Agent | Closer::System => {
                let text = if self.closing.trim().is_empty() {
                    texts::closing(self.lang).to_string()
                } else {
                    self.closing.clone()
                };
                self.system(now, text);
            }
            Closer::Visitor => self.system(now, texts::visitor_left(self.lang).to_string()),
            Closer::Flow => {}
        }
        self.set_phase(Phase::Closed);
        self.end(now, by);
    }

    /// Takes one message from the visitor's allowance (a token bucket,
    /// refilled by the time passed).
    fn spend(&mut self, now: Now) -> Result<(), ChannelsError> {
        let (left, since) = self.allowance;
        let earned =
            now.mono.saturating_duration_since(since).as_millis() / VISITOR_RATE.as_millis().max(1);
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        let (left, since) = if earned > 0 {
            (
                left.saturating_add(earned).min(VISITOR_BURST),
                since + VISITOR_RATE * earned.min(1_000_000),
            )
        } else {
            (left, since)
        };
        if left == 0 {
            self.allowance = (0, since);
            return Err(ChannelsError::TooFast);
        }
        self.allowance = (left - 1, since);
        Ok(())
    }

    fn seen(&self, client_id: Option<&str>) -> Option<Seq> {
        client_id.and_then(|c| self.client_ids.get(c).copied())
    }

    /// Adds a message from a person, checked.
    fn take(
        &mut self,
        now: Now,
        author: Author,
        text: &str,
        client_id: Option<&str>,
    ) -> Result<Seq, ChannelsError> {
        if self.phase == Phase::Closed {
            return Err(ChannelsError::Closed);
        }
        if text.trim().is_empty() {
            return Err(ChannelsError::Empty);
        }
        if text.chars().count() > MAX_TEXT {
            return Err(ChannelsError::TooLong { max: MAX_TEXT });
        }
        if client_id.is_some_and(|c| c.len() > MAX_CLIENT_ID) {
            return Err(ChannelsError::invalid(
                "client_id",
                format!("at most {MAX_CLIENT_ID} bytes"),
            ));
        }
        if self.log.len() >= MAX_MESSAGES {
            return Err(ChannelsError::TooLong { max: MAX_MESSAGES });
        }
        self.last_activity = now.mono;
        let seq = self.push(now, author, text.to_string(), client_id.map(str::to_string));
        Ok(seq)
    }

    fn system(&mut self, now: Now, text: String) {
        if !text.is_empty() {
            self.push(now, Author::System, text, None);
        }
    }

    fn push(&mut self, now: Now, author: Author, text: String, client_id: Option<String>) -> Seq {
        let seq = Seq(self.log.len() as u64 + 1);
        if let Some(c) = &client_id {
            self.client_ids.insert(c.clone(), seq);
        }
        let m = Message {
            seq,
            author,
            text,
            at_ms: now.unix_ms,
            client_id,
            attachment: None,
        };
        self.log.push(m.clone());
        self.out.push_back(Output::Message(m));
        seq
    }

    /// Over: said to the engine, and remembered for the survey.
    fn end(&mut self, now: Now, by: Closer) {
        self.ended = Some((now.mono, by));
        self.out.push_back(Output::Ended(by));
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.out.push_back(Output::Phase(phase));
        }
    }

    /// Runs the flow's outputs: prompts are written as text and count as
    /// played at once.
    fn drive(&mut self, now: Now) {
        while let Some(out) = self.flow.poll_output() {
            match out {
                ura_ivr::Output::Play { token, prompt } => {
                    let text = self.render(&prompt);
                    self.system(now, text);
                    // Out of hours: the closed text follows the welcome.
                    for text in std::mem::take(&mut self.closed_notice) {
                        self.system(now, text);
                    }
                    self.flow.prompt_finished(now.mono, token);
                }
                ura_ivr::Output::Enqueue { service } => {
                    let at = utc(now.unix_ms);
                    let wait = self
                        .keep
                        .as_ref()
                        .filter(|h| !h.is_open(Some(&service), at))
                        .map(|h| h.next_open(Some(&service), at));
                    match wait {
                        None => self.enqueue(now, service),
                        Some(Some(next)) => {
                            self.kept = Some((service, next.timestamp_millis()));
                            self.set_phase(Phase::AfterHours);
                            self.system(now, texts::kept(self.lang).to_string());
                        }
                        Some(None) => {
                            // The service chosen never opens.
                            let text =
                                texts::builtin(self.lang, BuiltinPrompt::ServiceClosed).to_string();
                            self.system(now, text);
                            self.set_phase(Phase::Closed);
                            self.end(now, Closer::Flow);
                        }
                    }
                }
                ura_ivr::Output::Hangup { .. } => {
                    if self.phase != Phase::Closed {
                        self.set_phase(Phase::Closed);
                        self.end(now, Closer::Flow);
                    }
                }
                ura_ivr::Output::StopPlay { .. } | ura_ivr::Output::Event(_) => {}
            }
        }
    }

    /// Joins the queue: the waiting notice, then the engine enqueues.
    fn enqueue(&mut self, now: Now, service: ServiceId) {
        // Served now (a fallback to a service still closed by its own
        // hours is kept again, for that service).
        self.served = true;
        self.kept = None;
        self.set_phase(Phase::Waiting);
        self.system(now, texts::waiting(self.lang).to_string());
        self.out.push_back(Output::Enqueue(service));
    }

    fn render(&self, prompt: &PromptRef) -> String {
        match prompt {
            PromptRef::Builtin(ura_ivr::BuiltinPrompt::Welcome)
                if !self.welcome.trim().is_empty() =>
            {
                self.welcome.clone()
            }
            PromptRef::Builtin(b) => texts::builtin(self.lang, *b).to_string(),
            PromptRef::Menu {
                items,
                operator_key,
                ..
            } => texts::menu(self.lang, items, *operator_key),
            PromptRef::NextOpening { words } => texts::next_opening(self.lang, words),
            // A text IVR has no recorded prompts; say nothing for one.
            PromptRef::Configured(_) => String::new(),
        }
    }
}
