//! ura's admin REST API under `/api/v1`.
//!
//! In **store mode** the store holds the configuration (numbers, schedules,
//! services, IVRs, queues, agents, companies), one JSON document per object;
//! every change is checked as a whole configuration by the engine's own
//! rules, written in one transaction, and handed to the running engine,
//! which applies it to new calls and never cuts a call in progress. In
//! **file mode** (`--config FILE`) the file is the truth: the API shows it
//! and refuses writes with 409.
//!
//! The engine is behind the [`Backend`] trait, so this crate does not
//! depend on the root package (which depends on it).

mod auth;
mod body;
mod calls;
mod channels;
mod chats;
mod dispatch;
mod docs;
mod error;
mod manage;
pub mod openapi;
mod prompts;
mod resources;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use serde_json::Value;
use ura_store::{ConfigChange, Store};

pub use auth::{check_key, create_key, hash, Caller, PREFIX_LEN};
pub use calls::call_json;
pub use dispatch::{delivery_of, http_agent, post_signed, row_of, Directory, LOG_KEEP};
pub use docs::{check_id, Doc, Docs, Kind, DEFAULT_COMPANY};
pub use error::ApiError;
pub use prompts::{NewPrompt, PromptAudio, PromptFile, MAX_UPLOAD};

/// Largest JSON body taken (a bigger one gets 413).
pub const MAX_JSON: usize = 1024 * 1024;

/// What an agent asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// Log in to their queues.
    Login,
    /// Log out.
    Logout,
    /// Take a break, with a reason.
    Pause(String),
    /// Back from the break.
    Resume,
}

/// The running engine, as the API sees it.
pub trait Backend: Send + Sync + 'static {
    /// Checks a whole configuration in the file's shape (each object with
    /// its `company`) by the rules the engine runs it with. The error
    /// names the field (`numbers.1000.ivr`, `schedules.comercial.weekly`).
    fn check(&self, config: &Value) -> Result<(), ApiError>;
    /// Makes a checked configuration the one new calls follow.
    fn apply(&self, config: Value) -> impl Future<Output = Result<(), String>> + Send;
    /// The live view of queues (waiting callers) and agents (states).
    fn live(&self) -> impl Future<Output = Option<Value>> + Send;
    /// Carries out an agent's command.
    fn agent_command(
        &self,
        ext: String,
        action: AgentAction,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Every form a caller may dial for a configured number (its fields):
    /// call records keep the number as dialled.
    fn dial_forms(&self, number: &Value) -> Vec<String>;
    /// The stored prompts, as the API shows them (`name`, `company`,
    /// `language`, `duration_ms`, `source`, TTS text/voice/rate, `created_at`).
    fn prompts(&self) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send;
    /// Makes a prompt (decodes the upload or speaks the text), stores it
    /// and makes it playable at once; refusals say why (not audio, too
    /// long, unknown voice…).
    fn save_prompt(
        &self,
        prompt: NewPrompt,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send;
    /// Deletes a stored prompt.
    fn delete_prompt(
        &self,
        company: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// A stored prompt's file (one of [`Backend::prompts`]) and its content type.
    fn prompt_file(
        &self,
        prompt: &Value,
        which: PromptFile,
    ) -> impl Future<Output = Result<(Vec<u8>, String), ApiError>> + Send;
    /// The voices text can be spoken with.
    fn voices(&self) -> Vec<Value>;
    /// The open conversations of a text channel (a channel is not deleted
    /// while it has any), by id; an error when the engine cannot say.
    fn open_conversations(
        &self,
        channel: String,
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send;
    /// A text channel's state: `connected`, `disabled` or `error` (an
    /// omni channel whose webhook keeps failing), and the reason in error.
    fn channel_state(&self, channel: &str, enabled: bool) -> (String, Option<String>);
    /// Clears a channel's error and sends what waits for its webhook now;
    /// how many deliveries were waiting.
    fn restart_channel(&self, channel: String) -> impl Future<Output = usize> + Send;
    /// Whether a schedule (its fields) is open at `at` (RFC 3339; now when
    /// absent), and when it opens or closes next.
    fn schedule_check(&self, schedule: &Value, at: Option<&str>) -> Result<Value, ApiError>;
}

/// Where the configuration lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// In the store; the API edits it.
    Store,
    /// In this file; the API only reads it.
    File(String),
}

impl Mode {
    /// `store` or `file`, as `/health` says.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Store => "store",
            Mode::File(_) => "file",
        }
    }
}

/// The API's state: the store, the engine, and the configuration in force.
pub struct Api<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Api<B> {
    fn clone(&self) -> Self {
        Api {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<B> {
    store: Store,
    backend: B,
    mode: Mode,
    /// The configuration in force; held across a change, so changes are
    /// applied one at a time and in order.
    docs: tokio::sync::Mutex<Docs>,
    /// The webhook dispatcher, once started.
    dispatcher: std::sync::OnceLock<dispatch::Dispatcher>,
    /// Held across a webhook change and its handing to the dispatcher.
    webhooks_lock: tokio::sync::Mutex<()>,
}

/// Now, RFC 3339 UTC to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl<B: Backend> Api<B> {
    /// Opens the API over `store`. In store mode the store's configuration
    /// is read; an empty store (first start) is filled with `initial` (the
    /// demo), checked first. In file mode `initial` is the file's
    /// configuration, shown read-only.
    pub async fn open(
        store: Store,
        backend: B,
        mode: Mode,
        initial: &Value,
    ) -> Result<Api<B>, ApiError> {
        let docs = match mode {
            Mode::File(_) => Docs::from_config(initial, DEFAULT_COMPANY, &now())?,
            Mode::Store => {
                let companies = store.companies().await?;
                if companies.is_empty() {
                    let mut docs = Docs::from_config(initial, DEFAULT_COMPANY, &now())?;
                    ensure_default(&mut docs);
                    backend.check(&docs.config(None))?;
                    store.write_config(&all_changes(&docs)).await?;
                    tracing::info!(
                        objects = docs.objects.len(),
                        "store mode: the store had no configuration; the demo was written to it"
                    );
                    docs
                } else {
                    Docs::from_store(store.config_docs().await?, companies)
                }
            }
        };
        Ok(Api {
            inner: Arc::new(Inner {
                store,
                backend,
                mode,
                docs: tokio::sync::Mutex::new(docs),
                dispatcher: std::sync::OnceLock::new(),
                webhooks_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The engine.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// Store or file mode.
    pub fn mode(&self) -> &Mode {
        &self.inner.mode
    }

    /// The configuration in force, in the file's shape.
    pub async fn config(&self) -> Value {
        self.inner.docs.lock().await.config(None)
    }

    /// Reads the configuration again (SIGHUP): from the store in store
    /// mode, or `file` (the file read again) in file mode. It is checked
    /// and applied; on error the running configuration stays.
    pub async fn reload(&self, file: Option<&Value>) -> Result<usize, ApiError> {
        let mut docs = self.inner.docs.lock().await;
        let next = match (&self.inner.mode, file) {
            (Mode::File(_), Some(f)) => Docs::from_config(f, DEFAULT_COMPANY, &now())?,
            (Mode::File(_), None) => docs.clone(),
            (Mode::Store, _) => Docs::from_store(
                self.inner.store.config_docs().await?,
                self.inner.store.companies().await?,
            ),
        };
        let config = next.config(None);
        self.inner.backend.check(&config)?;
        self.inner
            .backend
            .apply(config)
            .await
            .map_err(ApiError::Unavailable)?;
        let count = next.objects.len();
        self.directory_changed(&next).await;
        *docs = next;
        Ok(count)
    }

    /// Replaces the whole configuration (an import): checked first, all or
    /// nothing. Returns how many objects there are now.
    pub async fn import(&self, config: &Value) -> Result<usize, ApiError> {
        self.change(None, |docs| {
            let mut next = Docs::from_config(config, DEFAULT_COMPANY, &now())?;
            // The export leaves SMTP passwords out: an SMTP server imported
            // without one keeps the password it has (same id and company).
            for ((kind, id), doc) in next.objects.iter_mut() {
                if *kind != Kind::Smtp || doc.body.contains_key("password") {
                    continue;
                }
                if let Some(p) = docs
                    .objects
                    .get(&(Kind::Smtp, id.clone()))
                    .filter(|old| old.company == doc.company)
                    .and_then(|old| old.body.get("password"))
                {
                    doc.body.insert("password".into(), p.clone());
                }
            }
            // Companies that exist stay (with their keys).
            for (id, c) in &docs.companies {
                next.companies
                    .entry(id.clone())
                    .or_insert_with(|| c.clone());
            }
            ensure_default(&mut next);
            let mut changes = vec![ConfigChange::ClearDocs];
            changes.extend(all_changes(&next));
            let count = next.objects.len();
            let companies = next.companies_in_use();
            *docs = next;
            Ok((changes, companies, count))
        })
        .await
    }

    /// Makes a change: `f` edits a copy of the configuration and says what
    /// to write and which companies it touched. The copy is checked (each
    /// touched company alone, so nothing can lean on another company's
    /// objects, then the whole), written in one transaction, and applied.
    async fn change<R>(
        &self,
        delete: Option<(Kind, &str)>,
        f: impl FnOnce(&mut Docs) -> Result<(Vec<ConfigChange>, Vec<String>, R), ApiError>,
    ) -> Result<R, ApiError> {
        if let Mode::File(path) = &self.inner.mode {
            return Err(ApiError::Conflict {
                code: "file_mode",
                message: format!(
                    "ura runs from the configuration file {path}: change the file and send \
                     SIGHUP, or start ura without --config to edit over the API"
                ),
                field: String::new(),
            });
        }
        let mut docs = self.inner.docs.lock().await;
        let mut next = docs.clone();
        let (changes, touched, out) = f(&mut next)?;
        let checked = touched
            .iter()
            .map(|c| self.inner.backend.check(&next.config(Some(c))))
            .collect::<Result<Vec<()>, _>>()
            .and_then(|_| self.inner.backend.check(&next.config(None)));
        if let Err(e) = checked {
            return Err(match (delete, e) {
                (Some((kind, id)), ApiError::Invalid { message, .. }) => {
                    let users = docs.users_of(kind, id);
                    ApiError::Conflict {
                        code: "in_use",
                        message: if users.is_empty() {
                            format!("{} {id} is still in use: {message}", kind.singular())
                        } else {
                            format!(
                                "{} {id} is still in use by {}: {message}",
                                kind.singular(),
                                users.join(", ")
                            )
                        },
                        field: String::new(),
                    }
                }
                (_, e) => e,
            });
        }
        self.inner.store.write_config(&changes).await?;
        let config = next.config(None);
        self.directory_changed(&next).await;
        *docs = next;
        self.inner
            .backend
            .apply(config)
            .await
            .map_err(|e| ApiError::Unavailable(format!("saved, but not applied: {e}")))?;
        Ok(out)
    }
}

/// Writes for every object and company of `docs`.
fn all_changes(docs: &Docs) -> Vec<ConfigChange> {
    docs.companies
        .values()
        .map(|c| ConfigChange::PutCompany(c.clone()))
        .chain(
            docs.objects
                .iter()
                .map(|((k, id), d)| ConfigChange::PutDoc(Docs::to_store(*k, id, d))),
        )
        .collect()
}

fn ensure_default(docs: &mut Docs) {
    docs.companies
        .entry(DEFAULT_COMPANY.into())
        .or_insert_with(|| ura_store::Company {
            id: DEFAULT_COMPANY.into(),
            name: "Default".into(),
            created_at: now(),
        });
}

/// The `/api/v1` routes.
pub fn router<B: Backend>(api: Api<B>) -> Router {
    resources::routes()
        .merge(manage::routes())
        .merge(calls::routes())
        .merge(chats::routes())
        .merge(channels::routes())
        .merge(prompts::routes())
        .merge(webhooks::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON))
        .with_state(api)
}

/// `/openapi.json` (the OpenAPI 3.1 document of [`router`]'s routes) and
/// `/docs` (a page showing it); neither needs a key.
pub fn docs_router() -> Router {
    Router::new()
        .route("/openapi.json", axum::routing::get(openapi_json))
        .route("/docs", axum::routing::get(docs_file))
        .route("/docs/", axum::routing::get(docs_file))
        .route("/docs/{file}", axum::routing::get(docs_file))
}

/// The OpenAPI document as JSON, built once.
pub fn openapi_json_text() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        openapi::document()
            .to_pretty_json()
            .expect("the OpenAPI document is JSON")
    })
}

async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json_text(),
    )
        .into_response()
}

/// The files of `/docs`, built into the binary: Swagger UI (from the npm
/// package `swagger-ui-dist`, Apache-2.0) and our page that points it at
/// `/openapi.json`.
const DOCS_FILES: [(&str, &str, &[u8]); 5] = [
    (
        "",
        "text/html; charset=utf-8",
        include_bytes!("../docs-ui/index.html"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../docs-ui/init.js"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../docs-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../docs-ui/swagger-ui.css"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../docs-ui/LICENSE"),
    ),
];

async fn docs_file(file: Option<axum::extract::Path<String>>) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let name = file.map(|axum::extract::Path(f)| f).unwrap_or_default();
    match DOCS_FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, bytes)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
