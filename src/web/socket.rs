//! One WebSocket's loop: frames from the core (its bounded outbox) go
//! out, text frames from the browser go to a handler; a frame that is not
//! valid JSON of the right shape gets an error frame (the socket stays).

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;

use crate::engine::chats::error_frame;

/// A visitor's socket sends `start` or `resume` within this long.
pub(super) const HELLO_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Sockets open at most (visitors and desks); more are refused with 503.
pub(super) const MAX_SOCKETS: usize = 50_000;

/// Counts an open socket while it lives.
pub(super) struct Open(pub(super) std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Open {
    /// One more, unless [`MAX_SOCKETS`] are open.
    pub(super) fn take(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Option<Open> {
        use std::sync::atomic::Ordering;
        let before = count.fetch_add(1, Ordering::Relaxed);
        if before >= MAX_SOCKETS {
            count.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Open(count.clone()))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Largest frame taken from a browser.
pub(super) const MAX_FRAME: usize = 64 * 1024;

/// A socket's read buffer to start with (it grows for a larger frame, up
/// to [`MAX_FRAME`]). tungstenite's default is 128 KiB per socket: at
/// 10,000 open conversations that was 1.3 GB of ura's memory.
pub(super) const READ_BUFFER: usize = 4 * 1024;

/// The upgrade with ura's socket settings: frames of at most
/// [`MAX_FRAME`], a small read buffer, each frame written at once (no
/// write buffer kept per socket).
pub(super) fn settings(
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> axum::extract::ws::WebSocketUpgrade {
    upgrade
        .max_message_size(MAX_FRAME)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
}

/// Runs the socket until either side ends: `on_text` gets each text frame
/// and answers an error frame to send back, if any. When the core drops
/// the outbox (it was full, or the conversation is gone), the socket is
/// closed with 1013 ("try again later"): the client reconnects and resumes.
///
/// A socket whose conversation has not begun (`begun` still false) after
/// [`HELLO_WITHIN`] is closed: an idle socket holds nothing for long.
pub(super) async fn pump(
    mut socket: WebSocket,
    mut rx: mpsc::Receiver<String>,
    begun: &std::sync::atomic::AtomicBool,
    mut on_text: impl FnMut(&str) -> Option<String>,
) {
    let hello_by = tokio::time::Instant::now() + HELLO_WITHIN;
    loop {
        let waiting_hello = !begun.load(std::sync::atomic::Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep_until(hello_by), if waiting_hello => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1008,
                        reason: "no start or resume in time".into(),
                    })))
                    .await;
                break;
            }
            frame = rx.recv() => match frame {
                Some(f) => {
                    if socket.send(Message::Text(f.into())).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code: 1013,
                            reason: "reconnect".into(),
                        })))
                        .await;
                    break;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Some(reply) = on_text(t.as_str()) {
                        if socket.send(Message::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = error_frame("bad_frame", "send JSON text frames", None);
                    if socket.send(Message::Text(reply.into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The error frame for a frame that does not read: names what is wrong.
pub(super) fn bad_frame(e: &serde_json::Error) -> String {
    error_frame(
        "bad_frame",
        &format!("not a frame ura understands: {e}"),
        None,
    )
}

/// The error frame when the core's chat lane is full.
pub(super) fn busy(client_id: Option<&str>) -> String {
    error_frame(
        "busy",
        "ura is busy: this was not taken, send it again",
        client_id,
    )
}
