//! One WebSocket's loop: frames from the core (its bounded outbox) go
//! out, text frames from the browser go to a handler; a frame that is not
//! valid JSON of the right shape gets an error frame (the socket stays).

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;

use crate::engine::chats::error_frame;

/// Largest frame taken from a browser.
pub(super) const MAX_FRAME: usize = 64 * 1024;

/// Runs the socket until either side ends: `on_text` gets each text frame
/// and answers an error frame to send back, if any. When the core drops
/// the outbox (it was full, or the conversation is gone), the socket is
/// closed with 1013 ("try again later"): the client reconnects and resumes.
pub(super) async fn pump(
    mut socket: WebSocket,
    mut rx: mpsc::Receiver<String>,
    mut on_text: impl FnMut(&str) -> Option<String>,
) {
    loop {
        tokio::select! {
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
