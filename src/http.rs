//! The HTTP side: `/health`, and the admin API (`ura_api`) under `/api/v1`.
//! It listens on 127.0.0.1 by default; every `/api/v1` request needs an
//! API key.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::config_api::EngineBackend;
use crate::engine::Counters;
use crate::error::UraError;

/// The admin API over the running engine.
pub type AdminApi = ura_api::Api<EngineBackend>;

/// What `/health` reads.
#[derive(Clone)]
struct Health {
    counters: Arc<Counters>,
    mode: &'static str,
}

/// The HTTP routes.
pub fn app(counters: Arc<Counters>, api: AdminApi) -> Router {
    let health = Health {
        counters,
        mode: api.mode().name(),
    };
    Router::new()
        .route("/health", get(health_view))
        .with_state(health)
        .merge(ura_api::router(api))
}

async fn health_view(State(h): State<Health>) -> Json<Value> {
    let c = &h.counters;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "config": h.mode,
        "active_calls": c.active_calls.load(Ordering::Relaxed),
        "answered_calls": c.answered_calls.load(Ordering::Relaxed),
    }))
}

/// Binds the HTTP address (before ura says it is up).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, UraError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| UraError::io(format!("HTTP bind {addr}"), e))
}

/// Serves the routes on a bound listener until the task is dropped.
pub fn serve(
    listener: tokio::net::TcpListener,
    counters: Arc<Counters>,
    api: AdminApi,
) -> Result<SocketAddr, UraError> {
    let local = listener
        .local_addr()
        .map_err(|e| UraError::io("HTTP address", e))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app(counters, api)).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(local)
}
