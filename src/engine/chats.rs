//! Text conversations in the core: the inputs that web sockets send
//! through the chat lane, the subscribers (visitor and agent desk sockets)
//! that frames go out to, and the frames themselves (JSON text). The
//! conversation logic is `ura_channels::Conversation`; its router side is
//! `call/chat.rs`, beside the calls, since both share one router.
//!
//! Every socket has a bounded outbox ([`OUTBOX`] frames). The core never
//! waits on one: a socket whose outbox is full is dropped (its task closes
//! it) and the client reconnects and resumes from the last message number
//! it showed, so nothing is lost.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use ura_channels::{Author, Conversation, ConversationId, Message, Phase};
use ura_router::{AgentId, OfferId, TaskId};

/// Frames a socket's outbox holds before the socket is dropped.
pub const OUTBOX: usize = 256;
/// Inputs the chat lane holds; past it, a socket's input is refused
/// ("busy") and the client sends it again.
pub const CHAT_LANE: usize = 8_192;
/// Open conversations at most; past it a new one is refused ("busy").
pub const MAX_OPEN: usize = 20_000;
/// Closed conversations kept (a visitor who reloads sees the end).
pub const KEEP_CLOSED: usize = 10_000;

/// Ended conversations waiting to be written; past it a record is lost
/// (counted in the log), never waited for.
pub const RECORDS: usize = 4_096;

/// What the writer task keeps in the store.
#[derive(Debug)]
pub enum ChatWrite {
    /// An ended conversation's record.
    Record(Box<ura_store::ChatRecord>),
    /// The visitor's rating of one (after its record, in the same queue:
    /// the record is written first).
    Rating(ura_store::ChatRating),
}

/// The task that writes ended conversations (and their ratings) to the
/// store, behind a bounded queue.
pub fn spawn_writer(store: ura_store::Store) -> mpsc::Sender<ChatWrite> {
    let (tx, mut rx) = mpsc::channel::<ChatWrite>(RECORDS);
    tokio::spawn(async move {
        while let Some(w) = rx.recv().await {
            // A refusal is retried a few times (a busy database), then logged.
            let mut tries = 0;
            loop {
                let (id, done) = match &w {
                    ChatWrite::Record(r) => (&r.id, store.save_chat(r).await.map(|()| true)),
                    ChatWrite::Rating(r) => (&r.id, store.rate_chat(r).await),
                };
                match done {
                    Ok(true) => break,
                    Ok(false) => {
                        tracing::warn!(chat = %id, "rating not kept: the conversation's record is missing");
                        break;
                    }
                    Err(e) => {
                        tries += 1;
                        if tries >= 5 {
                            tracing::error!(chat = %id, error = %e, "conversation record not written");
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                    }
                }
            }
        }
    });
    tx
}

/// Where a socket's frames go (JSON text).
pub type Outbox = mpsc::Sender<String>;

/// A socket, numbered by the HTTP side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubId(pub u64);

/// How a visitor's socket begins.
#[derive(Debug, Clone)]
pub enum Hello {
    /// A new conversation, with the pre-chat form's fields.
    Start {
        /// `name`, `email`, `phone`, `document`.
        fields: BTreeMap<String, String>,
        /// Who the site says the visitor is (its token, verified by the
        /// web side): the conversation is the customer `CHANNEL:sub`'s and
        /// the identity's fields fill the form. `None`: anonymous.
        identity: Option<ura_channels::Identity>,
    },
    /// Back to a conversation after the message numbered `last_seq`.
    Resume {
        /// The conversation's token (given when it started).
        token: String,
        /// The last message the client showed (0: none).
        last_seq: u64,
    },
}

/// What an agent does at the desk.
#[derive(Debug, Clone)]
pub enum DeskCommand {
    /// Available (logs in, or ends a pause).
    Available,
    /// Paused, with a reason.
    Pause(String),
    /// Takes an offered conversation.
    Accept(OfferId),
    /// Writes in a conversation.
    Text {
        /// The conversation.
        conversation: ConversationId,
        /// The text.
        text: String,
        /// The desk's own id of the message (resends).
        client_id: Option<String>,
    },
    /// Ends a conversation (the closing message goes to the visitor).
    Close(ConversationId),
    /// The agent is typing in a conversation (shown to the visitor, not
    /// kept).
    Typing(ConversationId),
    /// Puts a conversation on hold (`on`) or takes it off.
    Hold {
        /// The conversation.
        conversation: ConversationId,
        /// On hold or back.
        on: bool,
    },
    /// The desk showed the conversation's messages up to `seq`.
    Read {
        /// The conversation.
        conversation: ConversationId,
        /// The last message number shown.
        seq: u64,
    },
    /// The agent hands the conversation on: to a queue (by name) or to
    /// another agent (by extension).
    Transfer {
        /// The conversation.
        conversation: ConversationId,
        /// A queue's name or an agent's extension.
        to: String,
    },
}

/// Inputs from the web side, through the chat lane.
#[derive(Debug)]
pub enum ChatInput {
    /// A visitor's socket opened on `channel`.
    VisitorHello {
        /// The socket.
        sub: SubId,
        /// The channel's id.
        channel: String,
        /// New or resumed.
        hello: Hello,
        /// Its outbox.
        tx: Outbox,
    },
    /// The visitor wrote.
    VisitorText {
        /// The socket.
        sub: SubId,
        /// The text.
        text: String,
        /// The client's own id of the message.
        client_id: Option<String>,
    },
    /// The visitor's page showed every message up to `seq`.
    VisitorRead {
        /// The socket.
        sub: SubId,
        /// The last message number shown.
        seq: u64,
    },
    /// The visitor is typing (shown to the agent, not kept).
    VisitorTyping {
        /// The socket.
        sub: SubId,
    },
    /// The visitor ended the conversation.
    VisitorClose {
        /// The socket.
        sub: SubId,
    },
    /// The visitor rated the ended conversation (the survey).
    VisitorRate {
        /// The socket.
        sub: SubId,
        /// 1 to 5 (checked by the conversation).
        score: i64,
        /// The comment, if any.
        comment: Option<String>,
    },
    /// An agent's extension and password, to log in to the desk: the
    /// answer is the agent's name, or `None`.
    DeskLogin {
        /// Extension.
        ext: String,
        /// Password (the agent's SIP password).
        password: String,
        /// The answer.
        reply: oneshot::Sender<Option<String>>,
    },
    /// A logged-in agent's desk socket opened.
    DeskAttach {
        /// The socket.
        sub: SubId,
        /// The agent.
        ext: String,
        /// Its outbox.
        tx: Outbox,
    },
    /// The agent did something at the desk.
    Desk {
        /// The socket.
        sub: SubId,
        /// What.
        cmd: DeskCommand,
    },
    /// The customer of a conversation with this agent (connected or
    /// offered to them): what the desk's history is read by. `None` when
    /// the conversation is not theirs.
    DeskCustomer {
        /// The agent's extension (from the desk's session).
        ext: String,
        /// The conversation.
        conversation: ConversationId,
        /// The answer.
        reply: oneshot::Sender<Option<Customer>>,
    },
    /// The open conversations of a channel (the admin API asks before
    /// deleting it).
    OpenConversations {
        /// The channel's id.
        channel: String,
        /// The conversations, by id.
        reply: oneshot::Sender<Vec<String>>,
    },
    /// A socket closed.
    Detach {
        /// The socket.
        sub: SubId,
    },
    /// About a file sent in a conversation.
    Attachment(crate::engine::attachments::AttachmentInput),
}

/// Who a conversation is with, for the desk's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `CHANNEL:sub` (identified by the site) or `anon-…`.
    pub id: String,
    /// Whether the site identified the visitor.
    pub identified: bool,
}

/// A socket the core writes to.
pub(crate) struct Sub {
    pub(crate) tx: Outbox,
    pub(crate) kind: SubKind,
}

/// Whose socket.
#[derive(Debug, Clone)]
pub(crate) enum SubKind {
    /// A visitor's, in this conversation.
    Visitor(ConversationId),
    /// An agent's desk.
    Desk(AgentId),
}

/// One conversation and what the engine knows around it.
pub(crate) struct Conv {
    pub(crate) conv: Conversation,
    pub(crate) channel: String,
    pub(crate) token: String,
    pub(crate) visitor: BTreeMap<String, String>,
    pub(crate) task: Option<TaskId>,
    pub(crate) queue: Option<String>,
    pub(crate) agent: Option<AgentId>,
    pub(crate) visitors: HashSet<SubId>,
    /// The last message number the agent's desk showed (read marks).
    pub(crate) read_by_agent: u64,
    /// The last message number the visitor's page showed.
    pub(crate) read_by_visitor: u64,
    /// The record's id (not the token: records are read by admins).
    pub(crate) record_id: String,
    /// When it started, RFC 3339 UTC.
    pub(crate) started_at: String,
    /// Kept out of hours: its entry in [`Chats::openings`].
    pub(crate) opening_at: Option<std::time::Instant>,
    /// Who it is with (see [`Customer`]).
    pub(crate) customer: Customer,
}

/// Every conversation and socket.
#[derive(Default)]
pub struct Chats {
    pub(crate) convs: HashMap<ConversationId, Conv>,
    pub(crate) by_token: HashMap<String, ConversationId>,
    pub(crate) by_task: HashMap<TaskId, ConversationId>,
    pub(crate) offers: HashMap<OfferId, (ConversationId, AgentId)>,
    pub(crate) subs: HashMap<SubId, Sub>,
    pub(crate) desks: HashMap<AgentId, HashSet<SubId>>,
    pub(crate) closed: VecDeque<ConversationId>,
    pub(crate) open: usize,
    /// When to look for conversations left in the menu next.
    pub(crate) sweep_at: Option<std::time::Instant>,
    /// Conversations kept out of hours, by when their service opens.
    pub(crate) openings: std::collections::BTreeSet<(std::time::Instant, ConversationId)>,
    /// Files sent in conversations.
    pub(crate) files: crate::engine::attachments::Files,
    /// Supervisors' desk sockets (the live view is pushed to them).
    pub(crate) supervisors: HashSet<SubId>,
    /// When the live view is looked at next, and what was pushed last.
    pub(crate) live: crate::engine::live::Pacer,
    next: u64,
}

/// How often conversations left in the menu are looked for.
pub const SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

impl Chats {
    /// A fresh conversation number.
    pub(crate) fn next_id(&mut self) -> ConversationId {
        self.next += 1;
        ConversationId(self.next)
    }

    /// Whether a router task is a conversation.
    pub(crate) fn owns(&self, task: TaskId) -> bool {
        self.by_task.contains_key(&task)
    }

    /// Sends a frame to one socket; a full or closed outbox drops it
    /// (returns the agent whose desk socket went, if any).
    pub(crate) fn send(&mut self, sub: SubId, frame: &str) -> Option<AgentId> {
        let sub_ok = match self.subs.get(&sub) {
            Some(s) => s.tx.try_send(frame.to_string()).is_ok(),
            None => return None,
        };
        if sub_ok {
            None
        } else {
            tracing::info!(
                sub = sub.0,
                "chat socket dropped: its outbox is full or closed"
            );
            self.detach(sub)
        }
    }

    /// Forgets a socket; returns the agent when it was their last desk.
    pub(crate) fn detach(&mut self, sub: SubId) -> Option<AgentId> {
        let s = self.subs.remove(&sub)?;
        match s.kind {
            SubKind::Visitor(c) => {
                if let Some(conv) = self.convs.get_mut(&c) {
                    conv.visitors.remove(&sub);
                }
                None
            }
            SubKind::Desk(agent) => {
                self.supervisors.remove(&sub);
                let set = self.desks.entry(agent).or_default();
                set.remove(&sub);
                if set.is_empty() {
                    self.desks.remove(&agent);
                    Some(agent)
                } else {
                    None
                }
            }
        }
    }

    /// The visitors' sockets of a conversation.
    pub(crate) fn visitor_subs(&self, c: ConversationId) -> Vec<SubId> {
        self.convs
            .get(&c)
            .map(|c| c.visitors.iter().copied().collect())
            .unwrap_or_default()
    }

    /// An agent's desk sockets.
    pub(crate) fn desk_subs(&self, agent: AgentId) -> Vec<SubId> {
        self.desks
            .get(&agent)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Keeps a closed conversation for resume, forgetting the oldest
    /// past [`KEEP_CLOSED`].
    pub(crate) fn closed(&mut self, c: ConversationId) {
        self.open = self.open.saturating_sub(1);
        self.closed.push_back(c);
        while self.closed.len() > KEEP_CLOSED {
            if let Some(old) = self.closed.pop_front() {
                if let Some(conv) = self.convs.remove(&old) {
                    self.by_token.remove(&conv.token);
                    for sub in conv.visitors {
                        self.subs.remove(&sub);
                    }
                }
            }
        }
    }
}

/// A random token (128 bits, hex) from the system's generator.
pub fn token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No system generator: still unique, if guessable; logged.
        tracing::error!("no system random generator: tokens are weak");
        bytes = fastrand::u128(..).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A message as a frame's JSON (with its conversation for the desk).
pub fn message_json(m: &Message, conversation: Option<ConversationId>) -> Value {
    let (from, name) = match &m.author {
        Author::Visitor => ("visitor", None),
        Author::Agent(n) => ("agent", Some(n.as_str())),
        Author::System => ("system", None),
    };
    let mut v = json!({
        "type": "message",
        "seq": m.seq.0,
        "from": from,
        "name": name,
        "text": m.text,
        "at": m.at_ms,
        "client_id": m.client_id,
    });
    if let Some(a) = &m.attachment {
        v["attachment"] = json!(a);
    }
    if let Some(c) = conversation {
        v["conversation"] = json!(c.0);
    }
    v
}

/// An error frame: `code` for programs, `message` for people; the
/// message's `client_id` when it was refused.
pub fn error_frame(code: &str, message: &str, client_id: Option<&str>) -> String {
    json!({"type": "error", "code": code, "message": message, "client_id": client_id}).to_string()
}

/// The visitor's status line: the phase and, waiting, the position.
pub fn status_frame(conv: &Conversation) -> String {
    let position = conv.position();
    json!({
        "type": "status",
        "phase": conv.phase().as_str(),
        "position": position,
        "position_text": position.map(|p| ura_channels::texts::position(conv.language(), p)),
        "agent": conv.agent(),
        "survey": conv.survey_pending(),
    })
    .to_string()
}

/// A conversation as the desk shows it: the visitor, the channel, the
/// phase and every message.
pub(crate) fn desk_conversation(id: ConversationId, c: &Conv) -> Value {
    json!({
        "type": "conversation",
        "conversation": id.0,
        "channel": c.channel,
        "queue": c.queue,
        "visitor": c.visitor,
        "customer": c.customer.id,
        "identified": c.customer.identified,
        "phase": c.conv.phase().as_str(),
        "read_by_visitor": c.read_by_visitor,
        "on_hold": c.conv.on_hold(),
        "messages": c
            .conv
            .after(ura_channels::Seq(0))
            .iter()
            .map(|m| message_json(m, Some(id)))
            .collect::<Vec<_>>(),
    })
}

/// Whether a phase still needs the router.
pub fn is_open(p: Phase) -> bool {
    p != Phase::Closed
}
