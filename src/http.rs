//! The HTTP side: `/health`, and the agents' and queues' live view and
//! commands under `/api/v1` (the full admin API comes later). It listens
//! on 127.0.0.1 by default; the admin API issue adds keys.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::engine::queues::AgentCommand;
use crate::engine::{Counters, EngineHandle};
use crate::error::UraError;

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    counters: Arc<Counters>,
    engine: EngineHandle,
}

/// The HTTP routes.
pub fn app(counters: Arc<Counters>, engine: EngineHandle) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/queues", get(status))
        .route("/api/v1/agents", get(status))
        .route("/api/v1/agents/{ext}/{action}", post(agent_action))
        .with_state(AppState { counters, engine })
}

async fn health(State(s): State<AppState>) -> Json<Value> {
    let c = &s.counters;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "active_calls": c.active_calls.load(Ordering::Relaxed),
        "answered_calls": c.answered_calls.load(Ordering::Relaxed),
    }))
}

fn error(
    status: StatusCode,
    code: &str,
    message: String,
    field: &str,
) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message, "field": field } })),
    )
}

async fn status(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    match s.engine.queue_status().await {
        Some(v) => (StatusCode::OK, Json(v)),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "ura is stopping".into(),
            "",
        ),
    }
}

/// The body of `POST /api/v1/agents/{ext}/pause`.
#[derive(Debug, Default, Deserialize)]
struct PauseBody {
    reason: Option<String>,
}

async fn agent_action(
    State(s): State<AppState>,
    Path((ext, action)): Path<(String, String)>,
    body: Option<Json<PauseBody>>,
) -> (StatusCode, Json<Value>) {
    let cmd = match action.as_str() {
        "login" => AgentCommand::Login,
        "logout" => AgentCommand::Logout,
        "pause" => {
            let reason = body
                .and_then(|Json(b)| b.reason)
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "pause".into());
            if reason.len() > 64 {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "a pause reason has at most 64 characters".into(),
                    "reason",
                );
            }
            AgentCommand::Pause(reason)
        }
        "resume" => AgentCommand::Resume,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action {other:?}: login, logout, pause or resume"),
                "action",
            )
        }
    };
    match s.engine.agent_command(ext.clone(), cmd).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "agent": ext, "done": action })),
        ),
        Err(e) if e.starts_with("no agent") => error(StatusCode::NOT_FOUND, "not_found", e, "ext"),
        Err(e) => error(StatusCode::CONFLICT, "conflict", e, "action"),
    }
}

/// Binds and serves the routes until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    counters: Arc<Counters>,
    engine: EngineHandle,
) -> Result<SocketAddr, UraError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| UraError::io(format!("HTTP bind {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| UraError::io("HTTP address", e))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app(counters, engine)).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(local)
}
