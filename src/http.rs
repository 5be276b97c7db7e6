//! The HTTP side: `/health`, and the admin API (`ura_api`) under `/api/v1`
//! with its OpenAPI document (`/openapi.json`) and `/docs` page, which the
//! API's answer counters leave out. It listens on 127.0.0.1 by default;
//! every `/api/v1` request needs an API key.

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

/// What `/health` and `/metrics` read.
#[derive(Clone)]
struct Health {
    counters: Arc<Counters>,
    mode: &'static str,
    api: AdminApi,
}

/// The HTTP routes.
pub fn app(counters: Arc<Counters>, api: AdminApi) -> Router {
    let web = crate::web::routes(crate::web::Web::new(api.backend().clone()));
    let health = Health {
        counters: counters.clone(),
        mode: api.mode().name(),
        api: api.clone(),
    };
    let counted = ura_api::router(api).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counters = counters.clone();
            async move {
                let response = next.run(req).await;
                if let Ok(mut by) = counters.api_requests.lock() {
                    *by.entry(response.status().as_u16()).or_default() += 1;
                }
                response
            }
        },
    ));
    Router::new()
        .route("/health", get(health_view))
        .route("/metrics", get(metrics_view))
        .with_state(health)
        .merge(counted)
        .merge(ura_api::docs_router())
        .merge(web)
}

async fn metrics_view(State(h): State<Health>) -> impl axum::response::IntoResponse {
    use ura_api::Backend;
    // A busy core answers late; the rest of the metrics do not wait.
    let live = tokio::time::timeout(std::time::Duration::from_secs(1), h.api.backend().live())
        .await
        .ok()
        .flatten();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&h.counters, live.as_ref()),
    )
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
