//! Files in conversations over HTTP (never over the sockets): the visitor
//! sends and fetches with its conversation's token (`X-Ura-Conversation`),
//! the agent with the desk's session cookie (sending also needs
//! `X-Ura-Desk: 1`, as the desk's other requests).
//!
//! A file is the request's body, its type the `Content-Type`, its name in
//! `X-Ura-Name` (percent-encoded UTF-8) and the sender's own id in
//! `X-Ura-Client-Id`. Before a byte of the body is read: the sender, the
//! conversation, the declared type against the channel's allow-list, the
//! `Content-Length` against its largest file and what the channel keeps
//! on disk. Then the first bytes are checked against the declared type
//! (magic bytes) before anything is written; the rest is written to
//! `ID.part` and renamed when whole. Refusals are JSON naming the reason:
//! `too_large` (413), `type_not_allowed` (415), `content_mismatch` (422),
//! `length_required` (411), `storage_full` (507), `busy` (503).
//!
//! At most [`UPLOADS`] files are received and [`DOWNLOADS`] served at once
//! (past it: `busy`, 503).
//!
//! A file is served as a download (`Content-Disposition: attachment`),
//! with `X-Content-Type-Options: nosniff`, a sandboxing CSP and
//! `Cross-Origin-Resource-Policy: same-origin`; the pages show images as
//! thumbnails from ura's own origin.

use std::io::{Read, Write};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::oneshot;
use ura_channels::attachments::{clean_name, essence, sniff, SNIFF_BYTES};
use ura_channels::{Attachment, ConversationId};

use super::{json_error, Web};
use crate::engine::attachments::{AttachmentInput, Party, Refused};
use crate::engine::chats::ChatInput;
use crate::engine::EngineHandle;

/// Files being received at once; more are refused (`busy`).
pub(super) const UPLOADS: usize = 64;
/// Files being served at once (each holds a reading thread while its
/// client reads); more are refused (`busy`).
pub(super) const DOWNLOADS: usize = 64;
/// Bytes gathered before a write to disk.
const WRITE_CHUNK: usize = 256 * 1024;
/// Bytes read from disk at once when serving a file.
const READ_CHUNK: usize = 64 * 1024;
/// Longest client id.
const MAX_CLIENT_ID: usize = ura_channels::MAX_CLIENT_ID;

fn refusal(r: Refused) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_error(status, r.code, &r.message, "")
}

fn busy() -> Response {
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "ura is busy: send the file again in a moment",
        "",
    )
}

/// Asks the core; a full lane or a stopping ura is `busy`.
async fn ask<T>(
    engine: &EngineHandle,
    make: impl FnOnce(oneshot::Sender<Result<T, Refused>>) -> AttachmentInput,
) -> Result<T, Response> {
    let (tx, rx) = oneshot::channel();
    engine
        .chat(ChatInput::Attachment(make(tx)))
        .map_err(|_| busy())?;
    rx.await.map_err(|_| busy())?.map_err(refusal)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A file being written: removed unless it was kept (also when the
/// request is dropped halfway).
struct Part(Option<PathBuf>);

impl Drop for Part {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

async fn write(file: std::fs::File, bytes: Vec<u8>) -> std::io::Result<std::fs::File> {
    blocking(move || {
        let mut file = file;
        file.write_all(&bytes)?;
        Ok(file)
    })
    .await
}

fn disk_error(e: &std::io::Error) -> Response {
    tracing::error!(error = %e, "attachment not written");
    json_error(
        StatusCode::INSUFFICIENT_STORAGE,
        "storage_full",
        "the file could not be kept: try later",
        "",
    )
}

/// Receives one file for `party` (in `conversation`, for an agent).
pub(super) async fn receive(
    web: &Web,
    party: Party,
    conversation: Option<ConversationId>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(engine) = web.backend.engine() else {
        return busy();
    };
    let mime = essence(header_str(headers, "content-type").unwrap_or(""));
    let Some(length) = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok())
    else {
        return json_error(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the file with its Content-Length",
            "content-length",
        );
    };
    let raw_name = header_str(headers, "x-ura-name").unwrap_or("");
    let name = percent_encoding::percent_decode_str(raw_name).decode_utf8_lossy();
    let name = clean_name(&name, "file");
    let client_id = header_str(headers, "x-ura-client-id").map(str::to_string);
    if client_id.as_ref().is_some_and(|c| c.len() > MAX_CLIENT_ID) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("at most {MAX_CLIENT_ID} bytes"),
            "x-ura-client-id",
        );
    }
    let Ok(_permit) = web.uploads.clone().try_acquire_owned() else {
        return busy();
    };
    let admitted = match ask(&engine, |reply| AttachmentInput::Admit {
        party: party.clone(),
        conversation,
        mime: mime.clone(),
        length,
        reply,
    })
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let part_path = admitted.path.with_extension("part");
    let mut part = Part(None);
    let mut file: Option<std::fs::File> = None;
    let mut gathered: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    let mut body = body;
    loop {
        let chunk = match body.frame().await {
            None => break,
            Some(Err(e)) => {
                tracing::info!(error = %e, "attachment upload cut");
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "incomplete",
                    "the file did not arrive whole: send it again",
                    "",
                );
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        total += chunk.len() as u64;
        if total > length || total > admitted.max_bytes {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the file is larger than {} bytes", admitted.max_bytes),
                "",
            );
        }
        gathered.extend_from_slice(&chunk);
        if file.is_none() && gathered.len() < SNIFF_BYTES {
            continue;
        }
        if file.is_none() {
            if let Some(r) = check(&mime, &gathered) {
                return r;
            }
            let p = part_path.clone();
            match blocking(move || std::fs::File::create(p)).await {
                Ok(f) => {
                    part.0 = Some(part_path.clone());
                    file = Some(f);
                }
                Err(e) => return disk_error(&e),
            }
        }
        if gathered.len() >= WRITE_CHUNK {
            let Some(f) = file.take() else { continue };
            match write(f, std::mem::take(&mut gathered)).await {
                Ok(f) => file = Some(f),
                Err(e) => return disk_error(&e),
            }
        }
    }
    if total != length {
        return json_error(
            StatusCode::BAD_REQUEST,
            "incomplete",
            "the file did not arrive whole: send it again",
            "content-length",
        );
    }
    let f = match file {
        Some(f) => f,
        None => {
            if let Some(r) = check(&mime, &gathered) {
                return r;
            }
            let p = part_path.clone();
            match blocking(move || std::fs::File::create(p)).await {
                Ok(f) => {
                    part.0 = Some(part_path.clone());
                    f
                }
                Err(e) => return disk_error(&e),
            }
        }
    };
    if let Err(e) = write(f, gathered).await {
        return disk_error(&e);
    }
    let (from, to) = (part_path.clone(), admitted.path.clone());
    if let Err(e) = blocking(move || std::fs::rename(from, to)).await {
        return disk_error(&e);
    }
    part.0 = Some(admitted.path.clone());
    let file = Attachment {
        id: admitted.id.clone(),
        name,
        mime,
        size: total,
    };
    let answer = ask(&engine, |reply| AttachmentInput::Add {
        party,
        conversation: admitted.conversation,
        file: file.clone(),
        client_id,
        reply,
    })
    .await;
    match answer {
        Ok((seq, kept)) => {
            if kept {
                part.0 = None;
            }
            (
                StatusCode::CREATED,
                axum::Json(json!({"seq": seq, "attachment": file})),
            )
                .into_response()
        }
        Err(r) => r,
    }
}

/// The refusal when the first bytes are not of the declared type.
fn check(mime: &str, head: &[u8]) -> Option<Response> {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    sniff(mime, head).err().map(|r| {
        json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            r.code(),
            &format!("the content is not {mime}"),
            "content-type",
        )
    })
}

/// Serves a file to `party`, if it may have it.
pub(super) async fn serve(web: &Web, party: Party, id: String) -> Response {
    let Some(engine) = web.backend.engine() else {
        return busy();
    };
    let found = match ask(&engine, |reply| AttachmentInput::Find { party, id, reply }).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(permit) = web.downloads.clone().try_acquire_owned() else {
        return busy();
    };
    let path = found.path.clone();
    let opened = blocking(move || std::fs::File::open(path)).await;
    let Ok(mut f) = opened else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such file (files go when their conversation ends)",
            "",
        );
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let file = &found.file;
    let ctype = if file.mime == "text/plain" {
        "text/plain; charset=utf-8".to_string()
    } else {
        file.mime.clone()
    };
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, &ctype);
    set(header::CONTENT_LENGTH, &file.size.to_string());
    set(header::CONTENT_DISPOSITION, &disposition(&file.name));
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    set(header::CACHE_CONTROL, "private, no-store");
    set(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    r
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded`.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The visitor by the token its page sends.
fn visitor(channel: String, headers: &HeaderMap) -> Option<Party> {
    match header_str(headers, "x-ura-conversation") {
        Some(token) if !token.is_empty() => Some(Party::Visitor {
            channel,
            token: token.to_string(),
        }),
        _ => None,
    }
}

fn no_token() -> Response {
    json_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send the conversation's token in X-Ura-Conversation",
        "x-ura-conversation",
    )
}

/// The agent by the desk's session.
fn agent(web: &Web, headers: &HeaderMap) -> Option<Party> {
    super::desk::agent_of(web, headers).map(|ext| Party::Agent { ext })
}

fn no_session() -> Response {
    json_error(StatusCode::UNAUTHORIZED, "unauthorized", "log in first", "")
}

/// `POST /chat/ID/attachments`: the visitor sends a file.
pub(super) async fn visitor_upload(
    State(web): State<Web>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match visitor(channel, &headers) {
        Some(party) => receive(&web, party, None, &headers, body).await,
        None => no_token(),
    }
}

/// `GET /chat/ID/attachments/FILE`: the visitor fetches a file of its
/// conversation.
pub(super) async fn visitor_download(
    State(web): State<Web>,
    Path((channel, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match visitor(channel, &headers) {
        Some(party) => serve(&web, party, id).await,
        None => no_token(),
    }
}

/// `POST /desk/conversations/N/attachments`: the agent sends a file.
pub(super) async fn desk_upload(
    State(web): State<Web>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(conversation) = conversation.parse::<u64>() else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a conversation is a number",
            "conversation",
        );
    };
    if header_str(&headers, "x-ura-desk") != Some("1") {
        return json_error(
            StatusCode::FORBIDDEN,
            "csrf",
            "send the header X-Ura-Desk: 1",
            "x-ura-desk",
        );
    }
    match agent(&web, &headers) {
        Some(party) => {
            receive(
                &web,
                party,
                Some(ConversationId(conversation)),
                &headers,
                body,
            )
            .await
        }
        None => no_session(),
    }
}

/// `GET /desk/attachments/FILE`: the agent fetches a file of a
/// conversation they handle.
pub(super) async fn desk_download(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match agent(&web, &headers) {
        Some(party) => serve(&web, party, id).await,
        None => no_session(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_a_safe_header() {
        let d = disposition("nota \"fiscal\"\\ação.pdf");
        assert_eq!(
            d,
            "attachment; filename=\"nota _fiscal__a__o.pdf\"; \
             filename*=UTF-8''nota%20%22fiscal%22%5Ca%C3%A7%C3%A3o%2Epdf"
        );
        assert!(HeaderValue::from_str(&d).is_ok());
    }
}
