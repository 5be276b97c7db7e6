//! The HTTP side: `/health` for now (the REST API comes later).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::engine::Counters;
use crate::error::UraError;

/// The HTTP routes.
pub fn app(counters: Arc<Counters>) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(counters)
}

async fn health(State(c): State<Arc<Counters>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "active_calls": c.active_calls.load(Ordering::Relaxed),
        "answered_calls": c.answered_calls.load(Ordering::Relaxed),
    }))
}

/// Binds and serves the routes until the task is dropped.
pub async fn serve(addr: SocketAddr, counters: Arc<Counters>) -> Result<SocketAddr, UraError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| UraError::io(format!("HTTP bind {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| UraError::io("HTTP address", e))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app(counters)).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(local)
}
