//! The agent desk: log in with the extension and the agent's SIP
//! password, a session cookie (`HttpOnly`, `SameSite=Strict`, path
//! `/desk`), and the desk's WebSocket.
//!
//! Against cross-site requests: the cookie is `SameSite=Strict`; the
//! login and logout take only `application/json` with the
//! `X-Ura-Desk: 1` header (a form of another site can send neither
//! without the browser asking first); the WebSocket checks that `Origin`
//! is ura itself. Five failed logins of an extension in a minute lock it
//! for a minute (answered 429).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::socket::{bad_frame, busy, pump};
use super::{cookie, html, json_error, same_origin, Failures, Web};
use crate::engine::chats::{token, ChatInput, DeskCommand, OUTBOX};
use crate::engine::inputs::ChatRefused;

/// The session cookie's name.
const COOKIE: &str = "ura_desk";
/// How long a session lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);
/// Failed logins of one extension before it is locked for a minute.
const MAX_FAILURES: u32 = 5;
/// Sessions at most (the oldest goes first).
const MAX_SESSIONS: usize = 10_000;

/// Logged-in desks, by token.
#[derive(Default)]
pub(super) struct Sessions {
    by_token: HashMap<String, (String, Instant)>,
    failures: Failures,
}

impl Sessions {
    fn agent(&mut self, token: &str, now: Instant) -> Option<String> {
        match self.by_token.get(token) {
            Some((ext, until)) if *until > now => Some(ext.clone()),
            Some(_) => {
                self.by_token.remove(token);
                None
            }
            None => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    ext: String,
    password: String,
}

/// What the desk sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum DeskFrame {
    Available,
    Pause {
        #[serde(default)]
        reason: String,
    },
    Accept {
        offer: u64,
    },
    Text {
        conversation: u64,
        text: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    Close {
        conversation: u64,
    },
    Typing {
        conversation: u64,
    },
    Read {
        conversation: u64,
        seq: u64,
    },
    Hold {
        conversation: u64,
        on: bool,
    },
    Transfer {
        conversation: u64,
        to: String,
    },
    Ping,
}

/// The desk page may not be framed by anyone.
pub(super) async fn page() -> Response {
    html(include_str!("assets/desk.html"), "'none'")
}

/// The refusal of a login or logout not sent by the desk page, if so.
fn not_from_desk(headers: &HeaderMap) -> Option<Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let marked = headers
        .get("x-ura-desk")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "1");
    (!(json && marked)).then(|| {
        json_error(
            StatusCode::FORBIDDEN,
            "csrf",
            "send application/json with the header X-Ura-Desk: 1",
            "",
        )
    })
}

pub(super) async fn login(State(web): State<Web>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = not_from_desk(&headers) {
        return r;
    }
    let Ok(Login { ext, password }) = serde_json::from_str::<Login>(&body) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"ext\": \"2001\", \"password\": \"…\"}",
            "",
        );
    };
    let now = Instant::now();
    {
        let s = web.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, since)) = s.failures.get(&ext) {
            if *n >= MAX_FAILURES && now.duration_since(*since) < Duration::from_secs(60) {
                return json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "locked",
                    "too many failed logins: try again in a minute",
                    "ext",
                );
            }
        }
    }
    let Some(engine) = web.backend.engine() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "ura is starting",
            "",
        );
    };
    let name = match engine.desk_login(ext.clone(), password).await {
        Ok(n) => n,
        Err(ChatRefused::Busy) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "ura is busy: try again",
                "",
            )
        }
        Err(ChatRefused::Stopped) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "ura is stopping",
                "",
            )
        }
    };
    let mut s = web.sessions.lock().unwrap_or_else(|e| e.into_inner());
    let Some(name) = name else {
        let entry = s.failures.entry(ext.clone()).or_insert((0, now));
        if now.duration_since(entry.1) >= Duration::from_secs(60) {
            *entry = (0, now);
        }
        entry.0 += 1;
        tracing::info!(%ext, "agent desk: wrong extension or password");
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong extension or password",
            "password",
        );
    };
    s.failures.remove(&ext);
    s.by_token.retain(|_, (_, until)| *until > now);
    if s.by_token.len() >= MAX_SESSIONS {
        if let Some(oldest) = s
            .by_token
            .iter()
            .min_by_key(|(_, (_, until))| *until)
            .map(|(t, _)| t.clone())
        {
            s.by_token.remove(&oldest);
        }
    }
    let t = token();
    s.by_token.insert(t.clone(), (ext.clone(), now + SESSION));
    tracing::info!(%ext, "agent desk: logged in");
    let mut r = axum::Json(json!({"agent": ext, "name": name})).into_response();
    let cookie = format!(
        "{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/desk; Max-Age={}",
        SESSION.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn logout(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Some(r) = not_from_desk(&headers) {
        return r;
    }
    if let Some(t) = cookie(&headers, COOKIE) {
        web.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_token
            .remove(t);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ura_desk=; HttpOnly; SameSite=Strict; Path=/desk; Max-Age=0"),
    );
    r
}

/// The agent logged in with this request's session cookie.
pub(super) fn agent_of(web: &Web, headers: &HeaderMap) -> Option<String> {
    let t = cookie(headers, COOKIE)?;
    web.sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .agent(t, Instant::now())
}

/// Who is logged in at this browser (401 when nobody).
pub(super) async fn session(State(web): State<Web>, headers: HeaderMap) -> Response {
    match agent_of(&web, &headers) {
        Some(ext) => axum::Json(json!({"agent": ext})).into_response(),
        None => json_error(StatusCode::UNAUTHORIZED, "unauthorized", "log in first", ""),
    }
}

pub(super) async fn ws(
    State(web): State<Web>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return json_error(
            StatusCode::FORBIDDEN,
            "origin",
            "the desk's socket opens from ura's own page only",
            "",
        );
    }
    let Some(ext) = agent_of(&web, &headers) else {
        return json_error(StatusCode::UNAUTHORIZED, "unauthorized", "log in first", "");
    };
    let Some(engine) = web.backend.engine() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "ura is starting",
            "",
        );
    };
    let Some(open) = web.socket() else {
        return super::too_many_sockets();
    };
    super::socket::settings(upgrade).on_upgrade(move |socket| async move {
        let _open = open;
        let sub = web.sub();
        // A desk begins when it opens.
        let begun = std::sync::atomic::AtomicBool::new(true);
        let (tx, rx) = mpsc::channel(OUTBOX);
        if engine.chat(ChatInput::DeskAttach { sub, ext, tx }).is_err() {
            // The outbox's sender went with the refused input: the
            // socket closes at once with "try again".
        }
        pump(socket, rx, &begun, |text| {
            let frame = match serde_json::from_str::<DeskFrame>(text) {
                Ok(f) => f,
                Err(e) => return Some(bad_frame(&e)),
            };
            let (cmd, client_id) = match frame {
                DeskFrame::Ping => return Some(json!({"type": "pong"}).to_string()),
                DeskFrame::Available => (DeskCommand::Available, None),
                DeskFrame::Pause { reason } => (DeskCommand::Pause(reason), None),
                DeskFrame::Accept { offer } => {
                    (DeskCommand::Accept(ura_router::OfferId(offer)), None)
                }
                DeskFrame::Text {
                    conversation,
                    text,
                    client_id,
                } => (
                    DeskCommand::Text {
                        conversation: ura_channels::ConversationId(conversation),
                        text,
                        client_id: client_id.clone(),
                    },
                    client_id,
                ),
                DeskFrame::Typing { conversation } => (
                    DeskCommand::Typing(ura_channels::ConversationId(conversation)),
                    None,
                ),
                DeskFrame::Hold { conversation, on } => (
                    DeskCommand::Hold {
                        conversation: ura_channels::ConversationId(conversation),
                        on,
                    },
                    None,
                ),
                DeskFrame::Read { conversation, seq } => (
                    DeskCommand::Read {
                        conversation: ura_channels::ConversationId(conversation),
                        seq,
                    },
                    None,
                ),
                DeskFrame::Transfer { conversation, to } => (
                    DeskCommand::Transfer {
                        conversation: ura_channels::ConversationId(conversation),
                        to,
                    },
                    None,
                ),
                DeskFrame::Close { conversation } => (
                    DeskCommand::Close(ura_channels::ConversationId(conversation)),
                    None,
                ),
            };
            match engine.chat(ChatInput::Desk { sub, cmd }) {
                Ok(()) => None,
                Err(_) => Some(busy(client_id.as_deref())),
            }
        })
        .await;
        let _ = engine.chat(ChatInput::Detach { sub });
    })
}
