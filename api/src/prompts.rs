//! Prompts: upload an mp3/wav (multipart, cut off past the size limit
//! while it streams in), make one from text and a voice (TTS), list, show,
//! download the original and the audio callers hear, delete one nobody
//! uses; and the voices to choose from.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::body::JsonObject;
use crate::error::ApiError;
use crate::resources::{matches, page};
use crate::{Api, Backend, DEFAULT_COMPANY};

/// The largest upload taken; past it the upload is cut off with 413.
pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// A prompt to make: from an upload or from text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrompt {
    /// Its name (the rule: 1-64 letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The company it belongs to.
    pub company: String,
    /// Its language tag.
    pub language: Option<String>,
    /// Where the audio comes from.
    pub audio: PromptAudio,
}

/// Where a new prompt's audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptAudio {
    /// An uploaded file (mp3 or wav).
    Upload(Vec<u8>),
    /// Text to speak.
    Text {
        /// What to say.
        text: String,
        /// Which voice (`GET /api/v1/voices`).
        voice: String,
        /// Words per minute.
        rate: u32,
    },
}

/// A stored prompt's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptFile {
    /// The file as uploaded (or synthesized).
    Original,
    /// What callers hear, as an 8 kHz WAV.
    Rendered,
}

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new()
        .route(
            "/api/v1/prompts",
            get(list::<B>)
                .post(create::<B>)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024)),
        )
        .route("/api/v1/prompts/{name}", get(show::<B>).delete(delete::<B>))
        .route("/api/v1/prompts/{name}/original", get(original::<B>))
        .route("/api/v1/prompts/{name}/audio.wav", get(rendered::<B>))
        .route("/api/v1/voices", get(voices::<B>))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptQuery {
    q: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    /// Replace a prompt of the same name (POST).
    replace: Option<bool>,
}

/// The prompts this caller sees: its company's and the installation's
/// (made on the command line, company `""`).
async fn visible<B: Backend>(api: &Api<B>, caller: &Caller) -> Result<Vec<Value>, ApiError> {
    Ok(api
        .backend()
        .prompts()
        .await?
        .into_iter()
        .filter(|p| {
            let c = p["company"].as_str().unwrap_or("");
            c.is_empty() || caller.may(c)
        })
        .collect())
}

async fn find<B: Backend>(api: &Api<B>, caller: &Caller, name: &str) -> Result<Value, ApiError> {
    visible(api, caller)
        .await?
        .into_iter()
        .find(|p| p["name"] == name)
        .ok_or_else(|| ApiError::NotFound(format!("no prompt named {name:?}")))
}

async fn list<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<PromptQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let items = visible(&api, &caller)
        .await?
        .into_iter()
        .filter(|p| {
            let name = p["name"].as_str().unwrap_or("");
            let text = p.as_object().cloned().unwrap_or_default();
            matches(name, &text, q.q.as_deref())
        })
        .collect();
    Ok(Json(page(items, q.limit, q.offset)?))
}

async fn show<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    find(&api, &caller, &name).await.map(Json)
}

/// Reads a multipart upload: `name`, `language` and `file` (cut off past
/// [`MAX_UPLOAD`] as it arrives).
async fn multipart(
    mut form: Multipart,
) -> Result<(Option<String>, Option<String>, Vec<u8>), ApiError> {
    let (mut name, mut language, mut file) = (None, None, None);
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("an upload has at most {MAX_UPLOAD} bytes"))
        } else {
            ApiError::BadRequest(format!("multipart: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let which = field.name().unwrap_or("").to_string();
        match which.as_str() {
            "file" => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if bytes.len() + chunk.len() > MAX_UPLOAD {
                        return Err(ApiError::TooLarge(format!(
                            "an upload has at most {MAX_UPLOAD} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some(bytes);
            }
            f @ ("name" | "language") => {
                let f = f.to_string();
                let text = field.text().await.map_err(bad)?;
                if text.len() > 200 {
                    return Err(ApiError::invalid(f, "too long"));
                }
                let f = f.as_str();
                if f == "name" {
                    name = Some(text);
                } else {
                    language = Some(text);
                }
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "unknown field: name, language, file",
                ))
            }
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("file", "missing: the mp3 or wav"))?;
    Ok((name, language, file))
}

async fn create<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<PromptQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let ctype = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (name, language, audio, company) = if ctype.starts_with("multipart/form-data") {
        let form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let (name, language, bytes) = multipart(form).await?;
        (name, language, PromptAudio::Upload(bytes), None)
    } else {
        let JsonObject(body) = JsonObject::from_request(req, &()).await?;
        let text = |f: &str| body.get(f).and_then(Value::as_str).map(str::to_string);
        let say = text("text").ok_or_else(|| {
            ApiError::invalid(
                "text",
                "missing: send text to speak (JSON) or a file (multipart)",
            )
        })?;
        let rate = match body.get("rate") {
            None => 160,
            Some(r) => r
                .as_u64()
                .and_then(|r| u32::try_from(r).ok())
                .ok_or_else(|| ApiError::invalid("rate", "words per minute, a number"))?,
        };
        let voice = text("voice").unwrap_or_else(|| "pt-BR".into());
        (
            text("name"),
            text("language"),
            PromptAudio::Text {
                text: say,
                voice,
                rate,
            },
            text("company"),
        )
    };
    let name = name.ok_or_else(|| ApiError::invalid("name", "missing"))?;
    let company = caller.company_for(company.as_deref())?;
    // One name, one prompt, across the installation (calls find prompts by
    // name).
    let existing = api
        .backend()
        .prompts()
        .await?
        .into_iter()
        .find(|p| p["name"] == name.as_str());
    if let Some(p) = existing {
        // The default company's prompts are kept under "" (as the command
        // line saves them).
        let theirs = match p["company"].as_str().unwrap_or("") {
            "" => DEFAULT_COMPANY,
            c => c,
        };
        if !q.replace.unwrap_or(false) || !caller.may(theirs) || theirs != company {
            return Err(ApiError::Conflict {
                code: "exists",
                message: format!(
                    "a prompt named {name} exists; add ?replace=true to replace it (your company's only)"
                ),
                field: "name".into(),
            });
        }
    }
    let made = api
        .backend()
        .save_prompt(NewPrompt {
            name: name.clone(),
            company: if company == DEFAULT_COMPANY && caller.company.is_none() {
                String::new()
            } else {
                company
            },
            language,
            audio,
        })
        .await?;
    tracing::info!(prompt = %name, key = %caller.prefix, "prompt saved over the API");
    let mut r = (StatusCode::CREATED, Json(made)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/prompts/{name}")) {
        r.headers_mut().insert(LOCATION, loc);
    }
    Ok(r)
}

async fn delete<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let p = find(&api, &caller, &name).await?;
    let company = p["company"].as_str().unwrap_or("").to_string();
    if company.is_empty() && caller.company.is_some() {
        return Err(ApiError::Forbidden(
            "this prompt belongs to the installation: a super-admin key deletes it".into(),
        ));
    }
    let users = {
        let docs = api.inner.docs.lock().await;
        docs.users_of_name(&name)
    };
    if !users.is_empty() {
        return Err(ApiError::Conflict {
            code: "in_use",
            message: format!("prompt {name} is in use by {}", users.join(", ")),
            field: "name".into(),
        });
    }
    api.backend().delete_prompt(&company, &name).await?;
    tracing::info!(prompt = %name, key = %caller.prefix, "prompt deleted over the API");
    Ok(StatusCode::NO_CONTENT)
}

async fn file<B: Backend>(
    api: &Api<B>,
    caller: &Caller,
    name: &str,
    which: PromptFile,
) -> Result<Response, ApiError> {
    let p = find(api, caller, name).await?;
    let (bytes, ctype) = api.backend().prompt_file(&p, which.clone()).await?;
    let suffix = match which {
        PromptFile::Rendered => ".wav".to_string(),
        PromptFile::Original => match ctype.as_str() {
            "audio/mpeg" => ".mp3".into(),
            _ => ".wav".into(),
        },
    };
    let disposition = format!("attachment; filename=\"{name}{suffix}\"");
    Ok((
        [(CONTENT_TYPE, ctype), (CONTENT_DISPOSITION, disposition)],
        Body::from(bytes),
    )
        .into_response())
}

async fn original<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    file(&api, &caller, &name, PromptFile::Original).await
}

async fn rendered<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    file(&api, &caller, &name, PromptFile::Rendered).await
}

async fn voices<B: Backend>(State(api): State<Api<B>>, _caller: Caller) -> Json<Value> {
    Json(json!({ "items": api.backend().voices() }))
}
