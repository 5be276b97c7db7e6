//! What a text channel has besides its settings: its restart (an omni
//! channel in error is cleared and what waits for its webhook is sent at
//! once), its delivery log (an omni channel's messages out), and deleting
//! several at once (none while one has an open conversation).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use ura_store::ConfigChange;

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
        .route("/api/v1/channels", delete(delete_many::<B>))
}

/// `?ids=a,b,c` of a delete of several channels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Many {
    ids: String,
}

/// Most channels deleted by one request.
const MAX_MANY: usize = 100;

async fn delete_many<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<Many>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let mut ids: Vec<String> = q
        .ids
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_MANY {
        return Err(ApiError::invalid(
            "ids",
            format!("1 to {MAX_MANY} channel ids, separated by commas"),
        ));
    }
    for id in &ids {
        enabled(&api, &caller, id).await?;
    }
    // None is deleted while one has an open conversation: all are named.
    let mut busy = Vec::new();
    for id in &ids {
        let open = api
            .backend()
            .open_conversations(id.clone())
            .await
            .map_err(ApiError::Unavailable)?;
        if !open.is_empty() {
            busy.push(format!("{id} ({})", open.join(", ")));
        }
    }
    if !busy.is_empty() {
        return Err(ApiError::Conflict {
            code: "in_use",
            message: format!(
                "these channels have open conversations: {} (close them first, or disable \
                 the channels so no new one starts); nothing was deleted",
                busy.join("; ")
            ),
            field: "ids".into(),
        });
    }
    let gone = ids.clone();
    api.change(None, |docs| {
        let mut changes = Vec::new();
        let mut touched = Vec::new();
        for id in &gone {
            let key = (Kind::Channels, id.clone());
            let doc = docs
                .objects
                .get(&key)
                .filter(|d| caller.may(&d.company))
                .ok_or_else(|| ApiError::NotFound(format!("no channel {id:?}")))?;
            touched.push(doc.company.clone());
            docs.objects.remove(&key);
            changes.push(ConfigChange::DeleteDoc {
                kind: Kind::Channels.as_str().into(),
                id: id.clone(),
            });
        }
        touched.sort();
        touched.dedup();
        Ok((changes, touched, ()))
    })
    .await?;
    tracing::info!(channels = ?ids, key = %caller.prefix, "channels deleted over the API");
    Ok(Json(json!({ "deleted": ids })))
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
