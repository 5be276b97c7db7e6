//! The customer's history at the desk: the earlier conversations of the
//! customer of a conversation the agent has (connected or offered), read
//! from the store on the web side (the core only says whose conversation
//! it is), with the desk's session.
//!
//! - `GET /desk/history?conversation=N`: when, channel, queue, agent and
//!   outcome of the customer's last [`LIMIT`] ended conversations, newest
//!   first (no messages).
//! - `GET /desk/history/RECORD?conversation=N`: one of them with its
//!   messages (only if it is the same customer's).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use ura_channels::ConversationId;

use super::{desk::agent_of, json_error, Web};
use crate::engine::chats::Customer;
use crate::engine::inputs::ChatRefused;

/// Earlier conversations listed at most.
pub const LIMIT: u32 = 20;

/// The customer of the conversation named in the query, if it is the
/// agent's; else the refusal.
async fn customer(
    web: &Web,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(Customer, ura_store::Store), Response> {
    let Some(ext) = agent_of(web, headers) else {
        return Err(json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in first",
            "",
        ));
    };
    let conversation = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "conversation")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .ok_or_else(|| {
            json_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "give ?conversation=N (the conversation's number at the desk)",
                "conversation",
            )
        })?;
    let unavailable =
        |message: &str| json_error(StatusCode::SERVICE_UNAVAILABLE, "busy", message, "");
    let Some(engine) = web.backend.engine() else {
        return Err(unavailable("ura is starting"));
    };
    let Some(store) = web.backend.store().cloned() else {
        return Err(unavailable("ura runs without a store: no history"));
    };
    match engine
        .desk_customer(ext, ConversationId(conversation))
        .await
    {
        Ok(Some(c)) => Ok((c, store)),
        Ok(None) => Err(json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such conversation with you",
            "conversation",
        )),
        Err(ChatRefused::Busy) => Err(unavailable("ura is busy: try again")),
        Err(ChatRefused::Stopped) => Err(unavailable("ura is stopping")),
    }
}

fn store_error(e: ura_store::StoreError) -> Response {
    tracing::warn!(error = %e, "desk history: the store failed");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        "the history could not be read: try again",
        "",
    )
}

/// The customer's earlier conversations, newest first.
pub(super) async fn list(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (customer, store) = match customer(&web, &headers, query.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let records = match store
        .list_chats(&ura_store::ChatFilter {
            customer: Some(customer.id.clone()),
            limit: LIMIT,
            ..Default::default()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let items: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "channel": r.channel,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "queue": r.queue,
                "agent": r.agent,
                "agent_name": r.agent.as_deref().and_then(|a| web.backend.agent_name(a)),
                "outcome": r.outcome,
                "visitor": serde_json::from_str::<Value>(&r.visitor).unwrap_or(Value::Null),
            })
        })
        .collect();
    axum::Json(json!({
        "customer": customer.id,
        "identified": customer.identified,
        "items": items,
    }))
    .into_response()
}

/// One earlier conversation of the same customer, with its messages.
pub(super) async fn one(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(record): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (customer, store) = match customer(&web, &headers, query.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match store.chat(&record).await {
        Ok(Some(r)) if r.customer == customer.id => axum::Json(json!({
            "id": r.id,
            "started_at": r.started_at,
            "messages": serde_json::from_str::<Value>(&r.messages).unwrap_or(Value::Null),
        }))
        .into_response(),
        Ok(_) => json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such conversation of this customer",
            "record",
        ),
        Err(e) => store_error(e),
    }
}
