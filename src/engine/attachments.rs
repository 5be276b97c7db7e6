//! Files sent in conversations, the core's side: who may send or fetch a
//! file, what each channel keeps on disk, and the files to remove when a
//! conversation ends. The bytes are written and read by the web side
//! (`src/web/attach.rs`) under `DATA_DIR/attachments/`, one file per
//! attachment named by its id; the core never touches a file itself: the
//! files of an ended conversation go to a janitor task behind a bounded
//! queue ([`JANITOR`] batches; full = logged, and the files are removed
//! at the next start, which empties the folder: conversations do not
//! survive a restart).

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};
use ura_channels::{Attachment, ConversationId};

/// Batches of files to remove that the janitor's queue holds.
pub const JANITOR: usize = 1_024;

/// Who asks: the visitor of a conversation (its token, on its channel) or
/// an agent logged in at the desk (by extension).
#[derive(Debug, Clone)]
pub enum Party {
    /// The visitor.
    Visitor {
        /// The channel in the page's address.
        channel: String,
        /// The conversation's token.
        token: String,
    },
    /// An agent.
    Agent {
        /// The agent's extension.
        ext: String,
    },
}

/// A refusal for the web side to answer: the HTTP status, a code for
/// programs and words for people.
#[derive(Debug, Clone)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// `not_yours`, `closed`, `too_large`…
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl Refused {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            status,
            code,
            message: message.into(),
        }
    }
}

/// A file may be sent: where to write it.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The conversation it goes to.
    pub conversation: ConversationId,
    /// The new attachment's id.
    pub id: String,
    /// Where its bytes go (the web side writes `PATH.part` first).
    pub path: PathBuf,
    /// The channel's largest file.
    pub max_bytes: u64,
}

/// A file that may be fetched.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its bytes.
    pub path: PathBuf,
    /// Name, type and size.
    pub file: Attachment,
}

/// What the web side asks of the core about files.
#[derive(Debug)]
pub enum AttachmentInput {
    /// May `party` send a file of this type and length (before its body
    /// is read)? For an agent, `conversation` says where.
    Admit {
        /// Who.
        party: Party,
        /// The agent's conversation (ignored for a visitor).
        conversation: Option<ConversationId>,
        /// The declared type (its essence, `image/png`).
        mime: String,
        /// The declared length.
        length: u64,
        /// The answer.
        reply: oneshot::Sender<Result<Admitted, Refused>>,
    },
    /// The file is written (and its content checked): its message.
    Add {
        /// Who.
        party: Party,
        /// Where (from [`Admitted`]).
        conversation: ConversationId,
        /// The file.
        file: Attachment,
        /// The sender's own id (a resend is the same message).
        client_id: Option<String>,
        /// The message's number, and whether this copy is kept (false:
        /// a resend of a file already taken; remove this copy).
        reply: oneshot::Sender<Result<(u64, bool), Refused>>,
    },
    /// May `party` fetch the file `id`?
    Find {
        /// Who.
        party: Party,
        /// The attachment's id.
        id: String,
        /// The answer.
        reply: oneshot::Sender<Result<Found, Refused>>,
    },
}

/// One kept file.
pub(crate) struct Kept {
    pub(crate) conversation: ConversationId,
    pub(crate) channel: String,
    pub(crate) file: Attachment,
}

/// The files the core knows of.
#[derive(Default)]
pub struct Files {
    /// `DATA_DIR/attachments` (none: files are refused).
    pub(crate) dir: Option<PathBuf>,
    pub(crate) janitor: Option<mpsc::Sender<Vec<PathBuf>>>,
    pub(crate) by_id: HashMap<String, Kept>,
    pub(crate) by_conversation: HashMap<ConversationId, Vec<String>>,
    /// Bytes on disk per channel.
    pub(crate) bytes: HashMap<String, u64>,
}

impl Files {
    /// Forgets the files of an ended conversation and hands them to the
    /// janitor (never waits).
    pub(crate) fn ended(&mut self, c: ConversationId) {
        let Some(ids) = self.by_conversation.remove(&c) else {
            return;
        };
        let mut paths = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(k) = self.by_id.remove(&id) {
                if let Some(b) = self.bytes.get_mut(&k.channel) {
                    *b = b.saturating_sub(k.file.size);
                }
            }
            if let Some(dir) = &self.dir {
                paths.push(dir.join(&id));
            }
        }
        if let Some(j) = &self.janitor {
            if j.try_send(paths).is_err() {
                tracing::warn!(conversation = %c, "attachments not removed now (the janitor's queue is full): the next start removes them");
            }
        }
    }
}

/// Empties `dir` (files of conversations a restart ended; done before
/// ura serves) and starts the task that removes the files of ended
/// conversations.
pub fn spawn_janitor(dir: PathBuf) -> (PathBuf, mpsc::Sender<Vec<PathBuf>>) {
    if dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "old attachments not removed");
        }
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::error!(dir = %dir.display(), error = %e, "no folder for attachments: files are refused");
    }
    let (tx, mut rx) = mpsc::channel::<Vec<PathBuf>>(JANITOR);
    tokio::spawn(async move {
        while let Some(paths) = rx.recv().await {
            let _ = tokio::task::spawn_blocking(move || {
                for p in paths {
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            tracing::warn!(file = %p.display(), error = %e, "attachment not removed")
                        }
                    }
                }
            })
            .await;
        }
    });
    (dir, tx)
}
