//! The visitor's side: the widget loader (`/chat/widget.js`, pasted in a
//! site as `<script async src=…/chat/widget.js data-ura-channel=ID>`), the
//! chat page (`/chat/ID`, also the direct test URL), its settings and its
//! WebSocket.

use std::collections::BTreeMap;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::socket::{bad_frame, busy, pump};
use super::{html, json_error, Web};
use crate::engine::chats::{error_frame, ChatInput, Hello, OUTBOX};
use crate::engine::inputs::ChatRefused;
use ura_channels::{ChannelsError, Identity, IdentityRefusal};

/// What a visitor's browser sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum VisitorFrame {
    /// A new conversation with the pre-chat form.
    Start {
        #[serde(default)]
        fields: BTreeMap<String, String>,
        /// The site's signed token for its logged-in user, if any.
        #[serde(default)]
        identity: Option<String>,
    },
    /// Back to a conversation, after the last message shown.
    Resume {
        conversation: String,
        #[serde(default)]
        last_seq: u64,
    },
    /// A message.
    Text {
        text: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    /// The page showed every message up to `seq`.
    Read { seq: u64 },
    /// The visitor is typing.
    Typing,
    /// The visitor ends the conversation.
    Close,
    /// The survey at the end: a score of 1 to 5 and a comment.
    /// (Any JSON for the score: a wrong one is refused by the conversation,
    /// naming `score`, rather than as a bad frame.)
    Rate {
        score: serde_json::Value,
        #[serde(default)]
        comment: Option<String>,
    },
    /// Keeps the socket alive; answered with a pong.
    Ping,
}

/// A web chat channel's settings (`None`: no such channel, or another type).
fn web_chat(web: &Web, channel: &str) -> Option<ura_channels::ChannelConfig> {
    web.backend
        .channel(channel)
        .filter(|c| c.kind == ura_channels::ChannelType::Webchat)
}

pub(super) async fn widget_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        include_str!("assets/widget.js"),
    )
        .into_response()
}

/// The chat page: any site may show it in a frame (the widget does).
pub(super) async fn page(State(web): State<Web>, Path(channel): Path<String>) -> Response {
    if web_chat(&web, &channel).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such chat channel",
            "channel",
        );
    }
    html(include_str!("assets/chat.html"), "*")
}

/// The settings the page and the widget show (no secret in them).
pub(super) async fn settings(State(web): State<Web>, Path(channel): Path<String>) -> Response {
    let Some(c) = web_chat(&web, &channel) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such chat channel",
            "channel",
        );
    };
    let w = &c.webchat;
    let fields: serde_json::Map<String, serde_json::Value> = w
        .fields
        .each()
        .iter()
        .map(|(name, rule)| (name.to_string(), json!(rule)))
        .collect();
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::Json(json!({
            "channel": channel,
            "enabled": c.enabled,
            "title": w.title,
            "subtitle": w.subtitle,
            "language": w.language.tag(),
            "colors": w.colors,
            "fields": fields,
            "auto_open": w.auto_open,
            "attachments": {
                "max_bytes": w.attachments.max_bytes,
                "types": w.attachments.types,
            },
        })),
    )
        .into_response()
}

pub(super) async fn ws(
    State(web): State<Web>,
    Path(channel): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // An omni channel's conversations come in over HTTP with its key.
    if web_chat(&web, &channel).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such chat channel",
            "channel",
        );
    }
    let Some(open) = web.socket() else {
        return super::too_many_sockets();
    };
    super::socket::settings(upgrade).on_upgrade(move |socket| async move {
        let _open = open;
        let Some(engine) = web.backend.engine() else {
            return;
        };
        let sub = web.sub();
        let begun = std::sync::atomic::AtomicBool::new(false);
        let (tx, rx) = mpsc::channel(OUTBOX);
        let mut tx = Some(tx);
        let input = |i: ChatInput, client_id: Option<&str>| match engine.chat(i) {
            Ok(()) => None,
            Err(ChatRefused::Busy) => Some(busy(client_id)),
            Err(ChatRefused::Stopped) => Some(busy(client_id)),
        };
        pump(socket, rx, &begun, |text| {
            let frame = match serde_json::from_str::<VisitorFrame>(text) {
                Ok(f) => f,
                Err(e) => return Some(bad_frame(&e)),
            };
            let hello = matches!(
                frame,
                VisitorFrame::Start { .. } | VisitorFrame::Resume { .. }
            );
            if hello && tx.is_none() {
                return Some(error_frame(
                    "already_started",
                    "this socket already has its conversation",
                    None,
                ));
            }
            if !hello && !matches!(frame, VisitorFrame::Ping) && tx.is_some() {
                return Some(error_frame(
                    "no_conversation",
                    "send start (the pre-chat form) or resume first",
                    None,
                ));
            }
            match frame {
                VisitorFrame::Ping => Some(json!({"type": "pong"}).to_string()),
                VisitorFrame::Start { fields, identity } => {
                    // Checked here, before the lane: a refused token
                    // starts nothing (the socket stays, to try again).
                    let identity = match identity.filter(|t| !t.is_empty()) {
                        None => None,
                        Some(t) => match verify_identity(&web, &channel, &t) {
                            Ok(i) => Some(i),
                            Err(frame) => return Some(frame),
                        },
                    };
                    let tx = tx.take()?;
                    begun.store(true, std::sync::atomic::Ordering::Relaxed);
                    input(
                        ChatInput::VisitorHello {
                            sub,
                            channel: channel.clone(),
                            hello: Hello::Start { fields, identity },
                            tx,
                        },
                        None,
                    )
                }
                VisitorFrame::Resume {
                    conversation,
                    last_seq,
                } => {
                    let tx = tx.take()?;
                    begun.store(true, std::sync::atomic::Ordering::Relaxed);
                    input(
                        ChatInput::VisitorHello {
                            sub,
                            channel: channel.clone(),
                            hello: Hello::Resume {
                                token: conversation,
                                last_seq,
                            },
                            tx,
                        },
                        None,
                    )
                }
                VisitorFrame::Text { text, client_id } => {
                    let id = client_id.clone();
                    input(
                        ChatInput::VisitorText {
                            sub,
                            text,
                            client_id,
                        },
                        id.as_deref(),
                    )
                }
                VisitorFrame::Typing => input(ChatInput::VisitorTyping { sub }, None),
                VisitorFrame::Read { seq } => input(ChatInput::VisitorRead { sub, seq }, None),
                VisitorFrame::Close => input(ChatInput::VisitorClose { sub }, None),
                VisitorFrame::Rate { score, comment } => {
                    // Not a whole number: 0, refused as out of range.
                    let score = score.as_i64().unwrap_or(0);
                    input(
                        ChatInput::VisitorRate {
                            sub,
                            score,
                            comment,
                        },
                        None,
                    )
                }
            }
        })
        .await;
        let _ = engine.chat(ChatInput::Detach { sub });
    })
}

/// Checks a visitor's identity token against the channel's secret, at
/// the wall clock's time. A refusal is the error frame to send:
/// `identity_refused` with its `reason` (`malformed`, `bad_signature`,
/// `expired`, `too_long_lived`, `bad_claim`, `not_enabled`).
fn verify_identity(web: &Web, channel: &str, token: &str) -> Result<Identity, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let result = match web.backend.channel(channel).and_then(|c| c.identity_secret) {
        Some(secret) => ura_channels::identity::verify(token, &secret, now),
        None => Err(ChannelsError::Identity {
            reason: IdentityRefusal::NotEnabled,
            message: "this chat channel takes no identity tokens (it has no identity_secret)"
                .into(),
        }),
    };
    result.map_err(|e| {
        let reason = match &e {
            ChannelsError::Identity { reason, .. } => reason.as_str(),
            _ => "malformed",
        };
        tracing::info!(%channel, reason, "web chat: identity token refused");
        json!({
            "type": "error",
            "code": "identity_refused",
            "reason": reason,
            "message": e.to_string(),
        })
        .to_string()
    })
}
