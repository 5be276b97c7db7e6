//! The generic ("omni") channel's way in: `POST /omni/{channel}/messages`,
//! with the channel's key as a Bearer token. An outside system (ERP, CRM,
//! ticketing) sends its customer's messages under its own conversation
//! id; ura answers 202 with the message's number once the conversation
//! took it, and sends what the customer is to see to the channel's
//! webhook ([`crate::omni`]).
//!
//! Each open conversation has a relay: a task that is the conversation's
//! "visitor" in the core (a subscriber like a web chat socket, with the
//! same bounded outbox) and turns what the core writes into webhook
//! messages. When the core drops the relay's outbox (it was full while
//! the webhook was slow), the relay resumes after the last message it
//! saw, as a browser does: nothing is lost or sent twice. A message id
//! sent again is not added again (the answer says `duplicate`).
//!
//! Files: the outside system sends its customer's file to
//! `POST /omni/{channel}/attachments?conversation=REF` (the same checks as
//! a web chat visitor's upload) and fetches a file the agent sent from the
//! `url` of the webhook message's `attachment`
//! (`GET /omni/{channel}/attachments/{id}?conversation=REF`), both with
//! the channel's key, while the conversation is open.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use ura_webhooks::EventType;

use super::{json_error, Web};
use crate::engine::chats::{ChatInput, Hello, SubId, MAX_OPEN, OUTBOX};
use crate::engine::inputs::ChatRefused;
use crate::omni::{body, Outgoing};

/// What a path segment or query value keeps as is: RFC 3986's unreserved
/// characters; everything else is percent-encoded.
const URL_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Longest conversation id of the outside system.
const MAX_REF: usize = 200;
/// How long a request waits for the conversation to take its message.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Requests waiting for one relay; past it, 503.
const ASKS: usize = 32;
/// Largest request body.
pub(super) const MAX_BODY: usize = 64 * 1024;

/// What the outside system sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming {
    /// Its own id of the conversation (a ticket, a chat).
    conversation: String,
    /// `message` (the default) or `close` (the customer left).
    #[serde(default, rename = "type")]
    kind: IncomingKind,
    /// The customer's text (for `message`).
    #[serde(default)]
    text: Option<String>,
    /// Its own id of the message: sent again, it is not added again.
    #[serde(default)]
    message_id: Option<String>,
    /// Who the customer is (read when the conversation starts).
    #[serde(default)]
    customer: Option<Customer>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum IncomingKind {
    #[default]
    Message,
    Close,
}

/// The customer, as the outside system knows them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Customer {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    document: Option<String>,
}

/// A request for a relay.
enum Ask {
    Text {
        text: String,
        client_id: String,
        reply: oneshot::Sender<Answer>,
    },
    Close {
        reply: oneshot::Sender<Answer>,
    },
    /// The conversation's token in the core (once started).
    Token {
        reply: oneshot::Sender<Option<String>>,
    },
}

/// What a relay answers.
#[derive(Debug)]
enum Answer {
    Taken { seq: u64, duplicate: bool },
    Refused(StatusCode, &'static str, String),
}

/// The open conversations' relays, by channel and the outside system's
/// conversation id.
#[derive(Default)]
pub(super) struct Relays {
    map: Mutex<HashMap<(String, String), mpsc::Sender<Ask>>>,
}

impl Relays {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), mpsc::Sender<Ask>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn refused(status: StatusCode, code: &str, message: &str, field: &str) -> Response {
    json_error(status, code, message, field)
}

/// The refusal, unless `channel` is an omni channel and the request
/// carries its key.
fn key_refusal(web: &Web, channel: &str, headers: &HeaderMap) -> Option<Response> {
    let config = web
        .backend
        .channel(channel)
        .filter(|c| c.kind == ura_channels::ChannelType::Omni);
    let Some(config) = config else {
        return Some(refused(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such omni channel",
            "channel",
        ));
    };
    if !authorized(headers, &config.omni.key) {
        return Some(refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the channel's key: Authorization: Bearer <key>",
            "authorization",
        ));
    }
    None
}

/// The party a file request of the outside system speaks as: its open
/// conversation `conversation` (query) of `channel`, as its visitor.
async fn party_of(
    web: &Web,
    channel: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<crate::engine::attachments::Party, Response> {
    if let Some(r) = key_refusal(web, channel, headers) {
        return Err(r);
    }
    let reference = query_param(query, "conversation")
        .map(|r| r.trim().to_string())
        .unwrap_or_default();
    if reference.is_empty() || reference.chars().count() > MAX_REF {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("the conversation's id, 1 to {MAX_REF} characters, in ?conversation="),
            "conversation",
        ));
    }
    let not_open = || {
        refused(
            StatusCode::NOT_FOUND,
            "not_found",
            "no open conversation with this id (a file does not start one: send a message first)",
            "conversation",
        )
    };
    let relay = web
        .relays
        .lock()
        .get(&(channel.to_string(), reference))
        .filter(|tx| !tx.is_closed())
        .cloned()
        .ok_or_else(not_open)?;
    let (reply, answer) = oneshot::channel();
    if relay.try_send(Ask::Token { reply }).is_err() {
        return Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "this conversation has too many requests in progress: send it again",
            "",
        ));
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(Some(token))) => Ok(crate::engine::attachments::Party::Visitor {
            channel: channel.to_string(),
            token,
        }),
        Ok(Ok(None)) | Ok(Err(_)) => Err(not_open()),
        Err(_) => Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "not answered in time: send it again",
            "",
        )),
    }
}

/// The value of `name` in a query string (`+` is a space, `%XX` decoded;
/// the first one wins).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// `POST /omni/{channel}/attachments?conversation=REF`: the customer's
/// file, with its `Content-Type`, `Content-Length` and, optionally, its
/// name (`X-Ura-Name`, percent-encoded) and an id that makes sending it
/// again harmless (`X-Ura-Client-Id`).
pub(super) async fn upload(
    State(web): State<Web>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match party_of(&web, &channel, &headers, query.as_deref()).await {
        Ok(party) => super::attach::receive(&web, party, None, &headers, body).await,
        Err(r) => r,
    }
}

/// `GET /omni/{channel}/attachments/{id}?conversation=REF`: a file of the
/// conversation (the `url` of a webhook message's `attachment`).
pub(super) async fn download(
    State(web): State<Web>,
    Path((channel, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match party_of(&web, &channel, &headers, query.as_deref()).await {
        Ok(party) => super::attach::serve(&web, party, id).await,
        Err(r) => r,
    }
}

/// Whether the request carries the channel's key (compared in constant
/// time).
fn authorized(headers: &HeaderMap, key: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim();
    given.len() == key.len()
        && given
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The field a serde message names (`unknown field `x``, `missing field `y``).
fn field_of(e: &serde_json::Error) -> String {
    let m = e.to_string();
    m.split('`').nth(1).unwrap_or("").to_string()
}

/// `POST /omni/{channel}/messages`.
pub(super) async fn messages(
    State(web): State<Web>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = key_refusal(&web, &channel, &headers) {
        return r;
    }
    let incoming: Incoming = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("not a message ura understands: {e}"),
                &field_of(&e),
            )
        }
    };
    let reference = incoming.conversation.trim().to_string();
    if reference.is_empty()
        || reference.chars().count() > MAX_REF
        || reference.chars().any(char::is_control)
    {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("1 to {MAX_REF} characters, no control characters"),
            "conversation",
        );
    }
    if let Some(id) = &incoming.message_id {
        if id.is_empty() || id.len() > ura_channels::MAX_CLIENT_ID {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("1 to {} bytes", ura_channels::MAX_CLIENT_ID),
                "message_id",
            );
        }
    }
    let Some(engine) = web.backend.engine() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "ura is starting",
            "",
        );
    };
    let (reply, answer) = oneshot::channel();
    let ask = match incoming.kind {
        IncomingKind::Close => Ask::Close { reply },
        IncomingKind::Message => {
            let Some(text) = incoming.text.filter(|t| !t.trim().is_empty()) else {
                return refused(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "a message needs its text",
                    "text",
                );
            };
            if text.chars().count() > ura_channels::MAX_TEXT {
                return refused(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    &format!("at most {} characters", ura_channels::MAX_TEXT),
                    "text",
                );
            }
            Ask::Text {
                text,
                client_id: incoming
                    .message_id
                    .unwrap_or_else(|| format!("omni-{}", crate::engine::chats::token())),
                reply,
            }
        }
    };
    let key = (channel.clone(), reference.clone());
    let relay = {
        let mut map = web.relays.lock();
        match map.get(&key).filter(|tx| !tx.is_closed()) {
            Some(tx) => tx.clone(),
            None if matches!(ask, Ask::Close { .. }) => {
                return refused(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no open conversation with this id",
                    "conversation",
                );
            }
            None => {
                if map.len() >= MAX_OPEN {
                    return refused(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "too many open conversations: try again in a moment",
                        "",
                    );
                }
                let (tx, rx) = mpsc::channel(ASKS);
                map.insert(key.clone(), tx.clone());
                let fields = customer_fields(&reference, incoming.customer.unwrap_or_default());
                let relay = Relay::new(web.clone(), engine, key, tx.clone());
                tokio::spawn(relay.run(fields, rx));
                tx
            }
        }
    };
    if relay.try_send(ask).is_err() {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "this conversation has too many messages in progress: send it again",
            "",
        );
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(Answer::Taken { seq, duplicate })) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "conversation": reference, "seq": seq, "duplicate": duplicate,
            })),
        )
            .into_response(),
        Ok(Ok(Answer::Refused(status, code, message))) => {
            let field = if code == "invalid" { "text" } else { "" };
            refused(status, code, &message, field)
        }
        _ => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "not taken in time: send it again with the same message_id",
            "",
        ),
    }
}

/// The pre-chat fields of an omni conversation: the outside system's
/// conversation id and what it says of the customer (each at most 200
/// characters).
fn customer_fields(reference: &str, c: Customer) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    out.insert("external_id".to_string(), reference.to_string());
    for (name, value) in [
        ("customer_id", c.id),
        ("name", c.name),
        ("email", c.email),
        ("phone", c.phone),
        ("document", c.document),
    ] {
        if let Some(v) = value {
            let v: String = v.trim().chars().take(200).collect();
            if !v.is_empty() {
                out.insert(name.to_string(), v);
            }
        }
    }
    out
}

/// How the core's refusal of a message reads over HTTP.
fn refusal(code: &str) -> (StatusCode, &'static str) {
    match code {
        "too_fast" => (StatusCode::TOO_MANY_REQUESTS, "too_fast"),
        "closed" => (StatusCode::CONFLICT, "closed"),
        "busy" => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        "unavailable" => (StatusCode::CONFLICT, "unavailable"),
        _ => (StatusCode::BAD_REQUEST, "invalid"),
    }
}

/// One conversation's relay.
struct Relay {
    web: Web,
    engine: crate::engine::EngineHandle,
    key: (String, String),
    me: mpsc::Sender<Ask>,
    sub: SubId,
    token: Option<String>,
    last_seq: u64,
    /// The customer's messages seen, by message id.
    seen: HashMap<String, u64>,
    /// Requests waiting for their message to be taken.
    waiting: HashMap<String, Vec<oneshot::Sender<Answer>>>,
    /// The last status sent: phase, position, agent.
    status: Option<(String, Value, Value)>,
}

/// What ended a relay.
enum End {
    Closed,
    Gone,
}

impl Relay {
    fn new(
        web: Web,
        engine: crate::engine::EngineHandle,
        key: (String, String),
        me: mpsc::Sender<Ask>,
    ) -> Relay {
        let sub = web.sub();
        Relay {
            web,
            engine,
            key,
            me,
            sub,
            token: None,
            last_seq: 0,
            seen: HashMap::new(),
            waiting: HashMap::new(),
            status: None,
        }
    }

    /// Asks the core, retrying a short while when its chat lane is full
    /// (a hello or a close is not the outside system's to send again).
    async fn input(&self, make: impl Fn() -> ChatInput) -> bool {
        for _ in 0..40 {
            match self.engine.chat(make()) {
                Ok(()) => return true,
                Err(ChatRefused::Stopped) => return false,
                Err(ChatRefused::Busy) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        false
    }

    /// Opens (or, with a token, resumes) the conversation; the frames' receiver.
    async fn hello(
        &mut self,
        fields: &std::collections::BTreeMap<String, String>,
    ) -> Option<mpsc::Receiver<String>> {
        let (tx, rx) = mpsc::channel(OUTBOX);
        self.sub = self.web.sub();
        let hello = match &self.token {
            Some(token) => Hello::Resume {
                token: token.clone(),
                last_seq: self.last_seq,
            },
            None => Hello::Start {
                fields: fields.clone(),
                // The outside system (holding the channel's key) names its
                // customer: the same customer `CHANNEL:id` in every
                // conversation, so the desk shows the history.
                identity: fields.get("customer_id").map(|id| ura_channels::Identity {
                    sub: id.clone(),
                    fields: Default::default(),
                    exp: i64::MAX,
                }),
            },
        };
        let (sub, channel) = (self.sub, self.key.0.clone());
        let ok = self
            .input(|| ChatInput::VisitorHello {
                sub,
                channel: channel.clone(),
                hello: hello.clone(),
                tx: tx.clone(),
            })
            .await;
        ok.then_some(rx)
    }

    async fn run(
        mut self,
        fields: std::collections::BTreeMap<String, String>,
        mut asks: mpsc::Receiver<Ask>,
    ) {
        let end = 'life: loop {
            let Some(mut frames) = self.hello(&fields).await else {
                break End::Gone;
            };
            loop {
                tokio::select! {
                    frame = frames.recv() => match frame {
                        Some(f) => {
                            if let Some(end) = self.frame(&f).await {
                                break 'life end;
                            }
                        }
                        // The core dropped this outbox (it was full): resume.
                        None if self.token.is_some() => {
                            let _ = self.engine.chat(ChatInput::Detach { sub: self.sub });
                            continue 'life;
                        }
                        None => break 'life End::Gone,
                    },
                    ask = asks.recv() => match ask {
                        Some(ask) => self.ask(ask).await,
                        None => break 'life End::Gone,
                    },
                }
            }
        };
        let _ = self.engine.chat(ChatInput::Detach { sub: self.sub });
        {
            let mut map = self.web.relays.lock();
            if map
                .get(&self.key)
                .is_some_and(|tx| tx.same_channel(&self.me))
            {
                map.remove(&self.key);
            }
        }
        let why = match end {
            End::Closed => "the conversation ended",
            End::Gone => "the conversation is gone (ura restarted or is stopping)",
        };
        for (_, waiters) in self.waiting.drain() {
            for w in waiters {
                let _ = w.send(Answer::Refused(StatusCode::CONFLICT, "closed", why.into()));
            }
        }
        // Requests that arrived meanwhile.
        asks.close();
        while let Ok(ask) = asks.try_recv() {
            let reply = match ask {
                Ask::Text { reply, .. } | Ask::Close { reply } => reply,
                Ask::Token { reply } => {
                    let _ = reply.send(None);
                    continue;
                }
            };
            let _ = reply.send(Answer::Refused(StatusCode::CONFLICT, "closed", why.into()));
        }
    }

    async fn ask(&mut self, ask: Ask) {
        match ask {
            Ask::Text {
                text,
                client_id,
                reply,
            } => {
                if let Some(&seq) = self.seen.get(&client_id) {
                    let _ = reply.send(Answer::Taken {
                        seq,
                        duplicate: true,
                    });
                    return;
                }
                let first = !self.waiting.contains_key(&client_id);
                self.waiting
                    .entry(client_id.clone())
                    .or_default()
                    .push(reply);
                if first {
                    let input = ChatInput::VisitorText {
                        sub: self.sub,
                        text,
                        client_id: Some(client_id.clone()),
                    };
                    if self.engine.chat(input).is_err() {
                        for w in self.waiting.remove(&client_id).unwrap_or_default() {
                            let _ = w.send(Answer::Refused(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "busy",
                                "ura is busy: send it again".into(),
                            ));
                        }
                    }
                }
            }
            Ask::Token { reply } => {
                let _ = reply.send(self.token.clone());
            }
            Ask::Close { reply } => {
                let sub = self.sub;
                let ok = self.input(|| ChatInput::VisitorClose { sub }).await;
                let _ = reply.send(if ok {
                    Answer::Taken {
                        seq: self.last_seq,
                        duplicate: false,
                    }
                } else {
                    Answer::Refused(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "ura is busy: send it again".into(),
                    )
                });
            }
        }
    }

    /// One frame from the core; `Some` when the relay ends.
    async fn frame(&mut self, text: &str) -> Option<End> {
        let Ok(f) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        match f["type"].as_str().unwrap_or("") {
            "started" => {
                self.token = f["conversation"].as_str().map(str::to_string);
                tracing::info!(channel = %self.key.0, conversation = %self.key.1, "omni conversation started");
            }
            "message" => self.message(&f).await,
            "resumed" => {
                for m in f["messages"].as_array().cloned().unwrap_or_default() {
                    self.message(&m).await;
                }
            }
            "status" => {
                let phase = f["phase"].as_str().unwrap_or("").to_string();
                let now = (phase.clone(), f["position"].clone(), f["agent"].clone());
                if self.status.as_ref() != Some(&now) {
                    self.status = Some(now);
                    let data = json!({
                        "phase": phase,
                        "position": f["position"],
                        "position_text": f["position_text"],
                        "agent": f["agent"],
                    });
                    self.send(EventType::ConversationStatus, data).await;
                }
                if phase == "closed" {
                    return Some(End::Closed);
                }
            }
            "error" => {
                let code = f["code"].as_str().unwrap_or("");
                let message = f["message"].as_str().unwrap_or("").to_string();
                match f["client_id"].as_str() {
                    Some(id) => {
                        let (status, code) = refusal(code);
                        for w in self.waiting.remove(id).unwrap_or_default() {
                            let _ = w.send(Answer::Refused(status, code, message.clone()));
                        }
                    }
                    None => {
                        // The conversation was not started (unavailable,
                        // busy) or cannot be resumed.
                        let (status, code) = refusal(code);
                        for (_, waiters) in self.waiting.drain() {
                            for w in waiters {
                                let _ = w.send(Answer::Refused(status, code, message.clone()));
                            }
                        }
                        return Some(End::Gone);
                    }
                }
            }
            _ => {}
        }
        None
    }

    async fn message(&mut self, m: &Value) {
        let seq = m["seq"].as_u64().unwrap_or(0);
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        if m["from"] == "visitor" {
            if let Some(id) = m["client_id"].as_str() {
                self.seen.insert(id.to_string(), seq);
                for w in self.waiting.remove(id).unwrap_or_default() {
                    let _ = w.send(Answer::Taken {
                        seq,
                        duplicate: false,
                    });
                }
            }
            return;
        }
        let mut data = json!({
            "seq": seq,
            "from": m["from"],
            "name": m["name"],
            "text": m["text"],
            "at": m["at"],
        });
        // A file the agent sent: what it is, and where the outside system
        // fetches it (with the channel's key, while the conversation is open).
        if let Some(a) = m.get("attachment").filter(|a| !a.is_null()) {
            let mut a = a.clone();
            if let Some(id) = a["id"].as_str() {
                let enc = |v: &str| percent_encoding::utf8_percent_encode(v, URL_PART).to_string();
                a["url"] = json!(format!(
                    "/omni/{}/attachments/{}?conversation={}",
                    enc(&self.key.0),
                    enc(id),
                    enc(&self.key.1)
                ));
            }
            data["attachment"] = a;
        }
        self.send(EventType::ConversationMessage, data).await;
    }

    async fn send(&self, kind: EventType, data: Value) {
        let Some(omni) = self.web.backend.omni() else {
            return;
        };
        let out = Outgoing {
            channel: self.key.0.clone(),
            kind,
            body: body(kind, &self.key.0, &self.key.1, data),
        };
        if !omni.send(out).await {
            tracing::warn!(channel = %self.key.0, "omni message not handed over: ura is stopping");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param(
                Some("a=1&conversation=T%C3%A9+1&conversation=x"),
                "conversation"
            ),
            Some("Té 1".to_string())
        );
        assert_eq!(
            query_param(Some("conversation"), "conversation"),
            Some(String::new())
        );
        assert_eq!(query_param(Some("other=1"), "conversation"), None);
        assert_eq!(query_param(None, "conversation"), None);
    }
}
