//! What a text channel has besides its settings: its restart (an omni
//! channel in error is cleared and what waits for its webhook is sent at
//! once) and its delivery log (an omni channel's messages out).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::docs::Kind;
use crate::error::ApiError;
use crate::resources::query;
use crate::webhooks::{delivery_log, LogQuery};
use crate::{Api, Backend};

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new()
        .route("/api/v1/channels/{id}/restart", post(restart::<B>))
        .route("/api/v1/channels/{id}/deliveries", get(deliveries::<B>))
}

/// The channel's `enabled`, if this caller may see it (404 otherwise).
async fn enabled<B: Backend>(api: &Api<B>, caller: &Caller, id: &str) -> Result<bool, ApiError> {
    let docs = api.inner.docs.lock().await;
    let doc = docs
        .objects
        .get(&(Kind::Channels, id.to_string()))
        .filter(|d| caller.may(&d.company))
        .ok_or_else(|| ApiError::NotFound(format!("no channel {id:?}")))?;
    Ok(doc
        .body
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true))
}

async fn restart<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let enabled = enabled(&api, &caller, &id).await?;
    let retried = api.backend().restart_channel(id.clone()).await;
    let (state, reason) = api.backend().channel_state(&id, enabled);
    tracing::info!(channel = %id, retried, key = %caller.prefix, "channel restarted over the API");
    Ok(Json(json!({
        "state": state,
        "state_reason": reason,
        "retried": retried,
    })))
}

async fn deliveries<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    enabled(&api, &caller, &id).await?;
    delivery_log(&api, &format!("{}{id}", ura_webhooks::CHANNEL_HOOK), q).await
}
