//! Ended web chat conversations (transcripts), newest first. A company's
//! key sees the conversations of its channels.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use ura_store::{ChatFilter, ChatRecord};

use crate::auth::Caller;
use crate::docs::Kind;
use crate::error::ApiError;
use crate::{Api, Backend};

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new().route("/api/v1/chats", get(list::<B>))
}

/// The filters of `/api/v1/chats`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatQuery {
    /// A channel's id.
    pub channel: Option<String>,
    /// An agent's extension.
    pub agent: Option<String>,
    /// A customer (`CHANNEL:sub` for a visitor the site identified,
    /// `anon-…` for an anonymous one).
    pub customer: Option<String>,
    /// Started before this (RFC 3339): the `next` of the previous page.
    pub before: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

/// A conversation as JSON.
pub fn chat_json(c: &ChatRecord) -> Value {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
    json!({
        "id": c.id,
        "channel": c.channel,
        "started_at": c.started_at,
        "ended_at": c.ended_at,
        "visitor": parse(&c.visitor),
        "queue": c.queue,
        "agent": c.agent,
        "outcome": c.outcome,
        "customer": (!c.customer.is_empty()).then_some(&c.customer),
        "messages": parse(&c.messages),
        "rating": c.rating,
        "rating_comment": c.rating_comment,
        "rated_at": c.rated_at,
    })
}

async fn list<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<ChatQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 500"));
    }
    if let Some(b) = &q.before {
        chrono::DateTime::parse_from_rfc3339(b).map_err(|e| {
            ApiError::invalid(
                "before",
                format!("{e} (want the `next` of the previous page)"),
            )
        })?;
    }
    // A company's key: only its channels (none: nothing).
    let mut channels: Vec<String> = match &caller.company {
        None => Vec::new(),
        Some(own) => {
            let docs = api.inner.docs.lock().await;
            docs.objects
                .iter()
                .filter(|((k, _), d)| *k == Kind::Channels && &d.company == own)
                .map(|((_, id), _)| id.clone())
                .collect()
        }
    };
    if let Some(c) = &q.channel {
        if caller.company.is_some() && !channels.contains(c) {
            channels = vec![String::new()];
        } else {
            channels = vec![c.clone()];
        }
    } else if caller.company.is_some() && channels.is_empty() {
        channels = vec![String::new()];
    }
    let chats = api
        .store()
        .list_chats(&ChatFilter {
            channels,
            agent: q.agent.clone(),
            customer: q.customer.clone().filter(|c| !c.is_empty()),
            before: q.before.clone(),
            limit,
        })
        .await?;
    let next = (chats.len() == limit as usize)
        .then(|| chats.last().map(|c| c.started_at.clone()))
        .flatten();
    Ok(Json(json!({
        "items": chats.iter().map(chat_json).collect::<Vec<_>>(),
        "next": next,
    })))
}
