//! Web chat transcripts by e-mail: when a conversation ends on a channel
//! whose `webchat.transcript` is on and the visitor gave an e-mail in the
//! pre-chat form, the core hands the messages to [`spawn_mailer`]'s task
//! through a bounded queue ([`MAILS`]; full = counted and logged, never a
//! blocked core). The task renders the transcript in the channel's
//! language (`ura_channels::transcript`) and sends it with lettre through
//! the channel's SMTP server, at most [`SENDING`] at once, each tried
//! [`TRIES`] times; a failure is logged and counted
//! (`ura_chat_transcripts_failed_total`), and nothing else waits on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{mpsc, Semaphore};
use ura_channels::{ChatLanguage, Message, SmtpConfig, SmtpSecurity};

/// Transcripts waiting to be sent; past it one is dropped (counted).
pub const MAILS: usize = 1_024;
/// Transcripts being sent at once.
pub const SENDING: usize = 8;
/// Tries per transcript (then it is counted as failed).
pub const TRIES: u32 = 3;
/// The wait after the first failed try (doubled after each).
pub const RETRY: Duration = Duration::from_millis(500);
/// One SMTP exchange's time limit.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One transcript to send.
#[derive(Debug)]
pub struct TranscriptMail {
    /// The conversation (for the log; not the visitor's token).
    pub conversation: String,
    /// The server.
    pub smtp: Arc<SmtpConfig>,
    /// The visitor's address, from the pre-chat form.
    pub to: String,
    /// The channel's language.
    pub lang: ChatLanguage,
    /// The channel's title (the subject's end).
    pub title: String,
    /// Every message of the conversation.
    pub messages: Vec<Message>,
}

/// What the mailer did, for `/metrics`.
#[derive(Debug, Default)]
pub struct MailStats {
    /// Transcripts the server took.
    pub sent: AtomicU64,
    /// Transcripts not sent: every try failed, a bad address, or the queue
    /// was full.
    pub failed: AtomicU64,
}

/// Starts the mailer; the sender is its bounded queue.
pub fn spawn_mailer(stats: Arc<MailStats>) -> mpsc::Sender<TranscriptMail> {
    let (tx, mut rx) = mpsc::channel::<TranscriptMail>(MAILS);
    tokio::spawn(async move {
        let sending = Arc::new(Semaphore::new(SENDING));
        while let Some(mail) = rx.recv().await {
            let Ok(permit) = sending.clone().acquire_owned().await else {
                return;
            };
            let stats = stats.clone();
            tokio::spawn(async move {
                let _permit = permit;
                deliver(&stats, mail).await;
            });
        }
    });
    tx
}

/// Hands a transcript to the mailer (never waits): false when it was
/// dropped (the queue is full), counted as failed.
pub fn enqueue(tx: &mpsc::Sender<TranscriptMail>, stats: &MailStats, mail: TranscriptMail) -> bool {
    let conversation = mail.conversation.clone();
    if tx.try_send(mail).is_err() {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%conversation, "transcript not sent: the mailer's queue is full");
        return false;
    }
    true
}

async fn deliver(stats: &MailStats, mail: TranscriptMail) {
    let email = match build(&mail) {
        Ok(m) => m,
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conversation = %mail.conversation, error = %e, "transcript not sent");
            return;
        }
    };
    let mut wait = RETRY;
    for attempt in 1..=TRIES {
        let result = match transport(&mail.smtp) {
            Ok(t) => t.send(email.clone()).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(conversation = %mail.conversation, "transcript sent");
                return;
            }
            Err(e) if attempt == TRIES => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    conversation = %mail.conversation,
                    host = %mail.smtp.host,
                    port = mail.smtp.port,
                    tries = TRIES,
                    error = %e,
                    "transcript not sent"
                );
            }
            Err(e) => {
                tracing::info!(conversation = %mail.conversation, attempt, error = %e, "transcript: trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// The e-mail: from the server's sender to the visitor, plain text.
fn build(mail: &TranscriptMail) -> Result<lettre::Message, String> {
    let from: Mailbox = mail.smtp.from.parse().map_err(|e| format!("from: {e}"))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("the visitor's e-mail: {e}"))?;
    let t = ura_channels::transcript::render(mail.lang, &mail.title, &mail.messages);
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(t.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(t.body)
        .map_err(|e| e.to_string())
}

/// A transport for one send (no pool: transcripts are few).
fn transport(s: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match s.security {
        SmtpSecurity::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        }
        #[cfg(feature = "tls")]
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| e.to_string())?,
        #[cfg(feature = "tls")]
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
        }
        #[cfg(not(feature = "tls"))]
        SmtpSecurity::Starttls | SmtpSecurity::Tls => {
            return Err(
                "this ura was built without TLS (the `tls` feature): use security = \"none\" \
                 or build with --features tls"
                    .into(),
            )
        }
    };
    let mut builder = builder.port(s.port).timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &s.username {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            s.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}
