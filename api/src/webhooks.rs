//! `/api/v1/webhooks`: each company's outgoing webhooks, their delivery
//! log, and a test event.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use ura_store::{DeliveryRow, WebhookRow};
use ura_webhooks::{rfc3339_ms, EventType};

use crate::auth::Caller;
use crate::body::JsonObject;
use crate::dispatch::{Control, Directory};
use crate::docs::{Docs, Kind};
use crate::error::ApiError;
use crate::resources::{matches, page, query, ListQuery};
use crate::{Api, Backend};

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new()
        .route("/api/v1/webhooks", get(list::<B>).post(create::<B>))
        .route(
            "/api/v1/webhooks/{id}",
            get(one::<B>).patch(update::<B>).delete(remove::<B>),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries::<B>))
        .route("/api/v1/webhooks/{id}/ping", post(ping::<B>))
}

/// Fields a webhook is created or changed with.
const FIELDS: [&str; 6] = [
    "url",
    "events",
    "description",
    "enabled",
    "secret",
    "company",
];
/// Fields shown and ignored when sent back.
const SHOWN: [&str; 4] = ["id", "created_at", "updated_at", "secret_hint"];

fn view(w: &WebhookRow) -> Value {
    let events: Value = serde_json::from_str(&w.events).unwrap_or(Value::Array(vec![]));
    json!({
        "id": w.id,
        "company": w.company,
        "url": w.url,
        "events": events,
        "description": w.description,
        "enabled": w.enabled,
        "secret_hint": format!("{}…", w.secret.chars().take(10).collect::<String>()),
        "created_at": w.created_at,
        "updated_at": w.updated_at,
    })
}

fn delivery_view(d: &DeliveryRow) -> Value {
    let body: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "event": d.event,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": rfc3339_ms(d.created_ms),
        "next_attempt_at": d.next_ms.map(rfc3339_ms),
        "last_attempt_at": d.last_ms.map(rfc3339_ms),
        "last_code": d.last_code,
        "last_error": d.last_error,
        "body": body,
    })
}

/// A new secret: `whsec_` and 32 random hex digits.
fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Unavailable(format!("no randomness for a secret: {e}")))?;
    Ok(format!(
        "whsec_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

fn check_url(url: &Value) -> Result<String, ApiError> {
    let Some(url) = url.as_str() else {
        return Err(ApiError::invalid("url", "a string"));
    };
    let lower = url.to_ascii_lowercase();
    let https = lower.starts_with("https://");
    if !(lower.starts_with("http://") || https) || url.len() > 2048 {
        return Err(ApiError::invalid(
            "url",
            "an http:// or https:// URL of at most 2048 characters",
        ));
    }
    if https && !cfg!(feature = "tls") {
        return Err(ApiError::invalid(
            "url",
            "https:// needs ura built with the `tls` feature (cargo build --release --features tls)",
        ));
    }
    match url.parse::<axum::http::Uri>() {
        Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => Ok(url.to_string()),
        _ => Err(ApiError::invalid("url", "not a URL with a host")),
    }
}

fn check_events(v: &Value) -> Result<String, ApiError> {
    let Some(list) = v.as_array().filter(|l| !l.is_empty() && l.len() <= 32) else {
        return Err(ApiError::invalid(
            "events",
            "a list of event types (or [\"*\"] for all of them)",
        ));
    };
    let mut names = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let name = e.as_str().unwrap_or_default();
        if name != "*" && name.parse::<EventType>().is_err() {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(ApiError::invalid(
                format!("events[{i}]"),
                format!("unknown event type {e}; one of {}, or *", known.join(", ")),
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(Value::from(names).to_string())
}

fn check_secret(v: &Value) -> Result<String, ApiError> {
    match v.as_str() {
        Some(s) if (16..=200).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()) => {
            Ok(s.to_string())
        }
        _ => Err(ApiError::invalid(
            "secret",
            "16 to 200 printable characters (leave it out and ura makes one)",
        )),
    }
}

/// Applies the fields of `body` to `w`.
fn apply(w: &mut WebhookRow, body: &Map<String, Value>) -> Result<(), ApiError> {
    for (k, v) in body {
        match k.as_str() {
            "url" => w.url = check_url(v)?,
            "events" => w.events = check_events(v)?,
            "description" => match v.as_str() {
                Some(d) if d.chars().count() <= 200 => w.description = d.to_string(),
                _ => return Err(ApiError::invalid("description", "at most 200 characters")),
            },
            "enabled" => {
                w.enabled = v
                    .as_bool()
                    .ok_or_else(|| ApiError::invalid("enabled", "true or false"))?
            }
            "secret" => w.secret = check_secret(v)?,
            "company" => {}
            k if SHOWN.contains(&k) => {}
            other => {
                return Err(ApiError::invalid(
                    other,
                    format!("unknown field; a webhook has {}", FIELDS.join(", ")),
                ))
            }
        }
    }
    Ok(())
}

impl<B: Backend> Api<B> {
    /// Starts delivering the core's events to the stored webhooks (store
    /// and file mode alike: webhooks are not part of the configuration).
    pub async fn start_webhooks(
        &self,
        events: tokio::sync::mpsc::Receiver<ura_webhooks::Event>,
        sink: ura_webhooks::EventSink,
    ) -> Result<(), ApiError> {
        let directory = self.directory(&*self.inner.docs.lock().await);
        let d = crate::dispatch::start(self.inner.store.clone(), events, sink, directory).await?;
        let _ = self.inner.dispatcher.set(d);
        Ok(())
    }

    /// Who owns each number and agent, for the events' companies.
    pub(crate) fn directory(&self, docs: &Docs) -> Directory {
        let mut dir = Directory::default();
        for ((kind, id), doc) in &docs.objects {
            match kind {
                Kind::Numbers => {
                    let body = Value::Object(doc.body.clone());
                    for form in self.inner.backend.dial_forms(&body) {
                        dir.numbers.insert(form, doc.company.clone());
                    }
                    dir.numbers.insert(id.clone(), doc.company.clone());
                }
                Kind::Agents => {
                    dir.agents.insert(id.clone(), doc.company.clone());
                }
                _ => {}
            }
        }
        dir
    }

    /// Tells the dispatcher who owns what now.
    pub(crate) async fn directory_changed(&self, docs: &Docs) {
        if let Some(d) = self.inner.dispatcher.get() {
            let _ = d
                .control
                .send(Control::Directory(self.directory(docs)))
                .await;
        }
    }

    async fn hooks_changed(&self) -> Result<(), ApiError> {
        if let Some(d) = self.inner.dispatcher.get() {
            let rows = self.inner.store.webhooks().await?;
            let (applied, done) = tokio::sync::oneshot::channel();
            if d.control.send(Control::Hooks(rows, applied)).await.is_ok() {
                // A stopped dispatcher drops the sender: no wait then.
                let _ = done.await;
            }
        }
        Ok(())
    }

    async fn webhook(&self, caller: &Caller, id: &str) -> Result<WebhookRow, ApiError> {
        self.inner
            .store
            .webhooks()
            .await?
            .into_iter()
            .find(|w| w.id == id && visible(caller, w))
            .ok_or_else(|| ApiError::NotFound(format!("no webhook {id:?}")))
    }
}

fn visible(caller: &Caller, w: &WebhookRow) -> bool {
    match (&caller.company, &w.company) {
        (None, _) => true,
        (Some(mine), Some(its)) => mine == its,
        (Some(_), None) => false,
    }
}

async fn list<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let items = api
        .inner
        .store
        .webhooks()
        .await?
        .iter()
        .filter(|w| visible(&caller, w))
        .filter(|w| q.company.is_none() || w.company == q.company)
        .filter(|w| {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(w.description.clone()));
            m.insert("url".into(), Value::String(w.url.clone()));
            matches(&w.url, &m, q.q.as_deref())
        })
        .map(view)
        .collect();
    Ok(Json(page(items, q.limit, q.offset)?))
}

async fn one<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&api.webhook(&caller, &id).await?)))
}

async fn create<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let company = match (&caller.company, body.get("company")) {
        (_, None) => caller.company.clone(),
        (None, Some(Value::Null)) => None,
        (_, Some(Value::String(c))) => {
            let c = caller.company_for(Some(c))?;
            if !api.inner.docs.lock().await.companies.contains_key(&c) {
                return Err(ApiError::invalid("company", format!("no company {c:?}")));
            }
            Some(c)
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "company",
                "a company id (super-admin keys: null for every company)",
            ))
        }
    };
    for required in ["url", "events"] {
        if !body.contains_key(required) {
            return Err(ApiError::invalid(required, "missing"));
        }
    }
    let now = crate::now();
    let mut w = WebhookRow {
        id: String::new(),
        company,
        url: String::new(),
        events: String::new(),
        secret: new_secret()?,
        description: String::new(),
        enabled: true,
        created_at: now.clone(),
        updated_at: now,
    };
    apply(&mut w, &body)?;
    w.id = format!("wh_{}", &new_secret()?[6..22]);
    let _guard = api.inner.webhooks_lock.lock().await;
    api.inner.store.put_webhook(&w).await?;
    api.hooks_changed().await?;
    let mut shown = view(&w);
    // The secret is shown this once (and whenever it is set again).
    shown["secret"] = Value::String(w.secret.clone());
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn update<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let _guard = api.inner.webhooks_lock.lock().await;
    let mut w = api.webhook(&caller, &id).await?;
    if let Some(c) = body.get("company") {
        if *c != json!(w.company) {
            return Err(ApiError::invalid(
                "company",
                "a webhook stays with its company: delete it and make another",
            ));
        }
    }
    apply(&mut w, &body)?;
    w.updated_at = crate::now();
    api.inner.store.put_webhook(&w).await?;
    api.hooks_changed().await?;
    Ok(Json(view(&w)))
}

async fn remove<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _guard = api.inner.webhooks_lock.lock().await;
    let w = api.webhook(&caller, &id).await?;
    api.inner.store.delete_webhook(&w.id).await?;
    api.hooks_changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?status=&before=&limit=` of the delivery log.
#[derive(Debug, Deserialize)]
pub(crate) struct LogQuery {
    status: Option<String>,
    /// Only deliveries created before this (`next_before` of a page).
    before: Option<i64>,
    limit: Option<i64>,
}

async fn deliveries<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let w = api.webhook(&caller, &id).await?;
    delivery_log(&api, &w.id, q).await
}

/// A page of the delivery log kept under `webhook` (a webhook's id, or
/// an omni channel's `channel:ID`), newest first.
pub(crate) async fn delivery_log<B: Backend>(
    api: &Api<B>,
    webhook: &str,
    q: LogQuery,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = &q.status {
        if ura_webhooks::Status::parse(s).is_none() {
            return Err(ApiError::invalid(
                "status",
                "pending, delivered, failed or dropped",
            ));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 500"));
    }
    let rows = api
        .inner
        .store
        .deliveries(webhook, q.status.as_deref(), q.before, limit)
        .await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|d| d.created_ms))
        .flatten();
    Ok(Json(json!({
        "items": rows.iter().map(delivery_view).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}

async fn ping<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let w = api.webhook(&caller, &id).await?;
    let Some(d) = api.inner.dispatcher.get() else {
        return Err(ApiError::Unavailable("webhooks are not running".into()));
    };
    let (reply, answer) = oneshot::channel();
    let company = w
        .company
        .clone()
        .unwrap_or_else(|| crate::docs::DEFAULT_COMPANY.into());
    d.control
        .send(Control::Ping {
            hook: w.id.clone(),
            company,
            reply,
        })
        .await
        .map_err(|_| ApiError::Unavailable("webhooks are stopping".into()))?;
    match answer.await {
        Ok(Some(delivery)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "delivery": delivery.to_string() })),
        )),
        _ => Err(ApiError::Unavailable(
            "the webhook has too many deliveries pending".into(),
        )),
    }
}
