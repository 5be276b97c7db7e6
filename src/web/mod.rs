//! The pages ura serves to browsers besides `/docs`: the web chat for
//! visitors (`/chat/…`: the widget loader, the chat page, its settings and
//! its WebSocket) and the agent desk (`/desk…`: log in, the page, its
//! WebSocket), and the generic channel's way in (`/omni/…/messages`,
//! for outside systems). The files are built into the binary (`assets/`, plain
//! JavaScript and CSS, no build step); messages are shown as text.
//!
//! Sockets reach the core through the chat lane ([`crate::engine::chats`]):
//! an input that finds it full is refused with a `busy` error frame, and
//! the client sends it again.

mod attach;
mod desk;
mod history;
mod omni;
mod socket;
mod visitor;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::config_api::EngineBackend;
use crate::engine::chats::SubId;

/// What the pages' handlers share.
#[derive(Clone)]
pub struct Web {
    backend: EngineBackend,
    sessions: Arc<Mutex<desk::Sessions>>,
    next_sub: Arc<AtomicU64>,
    sockets: Arc<std::sync::atomic::AtomicUsize>,
    relays: Arc<omni::Relays>,
    /// Places for files being received at once.
    uploads: Arc<tokio::sync::Semaphore>,
    /// Places for files being served at once.
    downloads: Arc<tokio::sync::Semaphore>,
}

impl Web {
    /// Over the engine behind the admin API.
    pub fn new(backend: EngineBackend) -> Web {
        Web {
            backend,
            sessions: Arc::new(Mutex::new(desk::Sessions::default())),
            next_sub: Arc::new(AtomicU64::new(1)),
            sockets: Arc::default(),
            relays: Arc::default(),
            uploads: Arc::new(tokio::sync::Semaphore::new(attach::UPLOADS)),
            downloads: Arc::new(tokio::sync::Semaphore::new(attach::DOWNLOADS)),
        }
    }

    /// A place for one more socket (`None` past the limit).
    fn socket(&self) -> Option<socket::Open> {
        socket::Open::take(&self.sockets)
    }

    fn sub(&self) -> SubId {
        SubId(self.next_sub.fetch_add(1, Ordering::Relaxed))
    }
}

/// The routes of the web chat and the agent desk.
pub fn routes(web: Web) -> Router {
    Router::new()
        .route("/chat/widget.js", get(visitor::widget_js))
        .route("/chat/assets/{file}", get(asset))
        .route("/chat/{channel}", get(visitor::page))
        .route("/chat/{channel}/settings", get(visitor::settings))
        .route("/chat/{channel}/ws", get(visitor::ws))
        .route("/chat/{channel}/attachments", post(attach::visitor_upload))
        .route(
            "/chat/{channel}/attachments/{id}",
            get(attach::visitor_download),
        )
        .route("/desk", get(desk::page))
        .route("/desk/assets/{file}", get(asset))
        .route("/desk/login", post(desk::login))
        .route("/desk/logout", post(desk::logout))
        .route("/desk/session", get(desk::session))
        .route("/desk/ws", get(desk::ws))
        .route(
            "/omni/{channel}/messages",
            post(omni::messages).layer(axum::extract::DefaultBodyLimit::max(omni::MAX_BODY)),
        )
        .route("/omni/{channel}/attachments", post(omni::upload))
        .route("/omni/{channel}/attachments/{id}", get(omni::download))
        .route(
            "/desk/conversations/{conversation}/attachments",
            post(attach::desk_upload),
        )
        .route("/desk/attachments/{id}", get(attach::desk_download))
        .route("/desk/history", get(history::list))
        .route("/desk/history/{record}", get(history::one))
        .with_state(web)
}

/// The files, built in: (name, content type, bytes).
const ASSETS: [(&str, &str, &str); 5] = [
    (
        "chat.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/chat.js"),
    ),
    (
        "chat.css",
        "text/css; charset=utf-8",
        include_str!("assets/chat.css"),
    ),
    (
        "desk.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/desk.js"),
    ),
    (
        "desk.css",
        "text/css; charset=utf-8",
        include_str!("assets/desk.css"),
    ),
    (
        "widget.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/widget.js"),
    ),
];

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == file) {
        Some((_, ctype, body)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => json_error(StatusCode::NOT_FOUND, "not_found", "no such file", ""),
    }
}

/// An HTML page with a strict policy: scripts, styles and sockets from ura
/// only (images also from `blob:`: the chat page shows the thumbnails of
/// files it fetched with the conversation's token); `frame_ancestors` says who may show it in a frame.
fn html(body: &'static str, frame_ancestors: &str) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    );
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A refusal in the admin API's shape: `{"error": {code, message, field}}`.
fn json_error(status: StatusCode, code: &str, message: &str, field: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "error": {"code": code, "message": message, "field": field}
        })),
    )
        .into_response()
}

/// The refusal when too many sockets are open.
fn too_many_sockets() -> Response {
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many open chat sockets: try again in a moment",
        "",
    )
}

/// Whether a WebSocket's `Origin` is this server (a page of another site
/// must not drive an agent's desk with the agent's cookie).
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        }
        _ => false,
    }
}

/// The value of one cookie.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Failed desk logins per extension, for the lockout.
type Failures = HashMap<String, (u32, std::time::Instant)>;
