//! The generic ("omni") channel's way out: what a customer of an outside
//! system (ERP, CRM, ticketing) is to see — ura's texts, the agent's
//! messages, the conversation's status — is POSTed as JSON to the
//! channel's webhook, signed like every webhook (`Ura-Signature`,
//! HMAC-SHA256 with the channel's secret), retried with backoff and kept
//! in the delivery log (under the webhook id `channel:ID`).
//!
//! One task owns a [`ura_webhooks::Outbox`] (the same sans-I/O schedule
//! as the admin API's webhooks, with a shorter backoff: a chat waits
//! seconds, not hours) whose webhooks are the omni channels. The
//! conversations' relays (`web/omni.rs`) hand messages over through a
//! bounded queue and wait for room: nothing is dropped, a slow receiver
//! slows its relays, which the core never waits for.
//!
//! Each channel's [`Health`] counts failed attempts in a row: from
//! [`ERROR_AFTER`] on the channel's state is `error` with the reason,
//! until an attempt succeeds. A restart makes every waiting delivery of
//! the channel due at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use ura_webhooks::{now_ms, DeliveryId, EventType, Hook, Limits, Outbox, Output, CHANNEL_HOOK};

/// Failed attempts in a row that put a channel in `error`.
pub const ERROR_AFTER: u32 = 3;

/// Messages the relays may hand over before they wait for room.
pub const QUEUE: usize = 4_096;

/// The schedule of omni deliveries: 1 s, 2 s, 5 s, 10 s, 30 s, 1 min,
/// then every 5 min, for 24 hours; at most 4 requests in flight per
/// channel.
pub fn limits() -> Limits {
    const S: i64 = 1000;
    Limits {
        in_flight: 32,
        in_flight_per_hook: 4,
        pending_per_hook: 10_000,
        give_up_ms: 24 * 3600 * S,
        backoff_ms: vec![S, 2 * S, 5 * S, 10 * S, 30 * S, 60 * S, 300 * S],
    }
}

/// The webhook id of a channel's deliveries.
pub fn hook_id(channel: &str) -> String {
    format!("{CHANNEL_HOOK}{channel}")
}

/// How a channel's receiver has been answering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Failed attempts since the last success.
    pub failures_in_row: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the failures in a row began (ms since the epoch).
    pub failing_since_ms: Option<i64>,
    /// Deliveries accepted by the receiver.
    pub delivered: u64,
}

impl Health {
    /// An attempt's outcome: an HTTP status, or why none came.
    pub fn attempt(&mut self, now_ms: i64, result: &Result<u16, String>) {
        match result {
            Ok(code) if (200..300).contains(code) => {
                self.failures_in_row = 0;
                self.last_error = None;
                self.failing_since_ms = None;
                self.delivered += 1;
            }
            other => {
                self.failures_in_row += 1;
                self.failing_since_ms.get_or_insert(now_ms);
                self.last_error = Some(match other {
                    Ok(code) => format!("the webhook answered HTTP {code}"),
                    Err(e) => format!("the webhook did not answer: {e}"),
                });
            }
        }
    }

    /// The channel's state (`connected`, `disabled`, `error`) and, in
    /// error, the reason.
    pub fn state(&self, enabled: bool) -> (&'static str, Option<String>) {
        if !enabled {
            return ("disabled", None);
        }
        if self.failures_in_row >= ERROR_AFTER {
            let since = self
                .failing_since_ms
                .map(ura_webhooks::rfc3339_ms)
                .unwrap_or_default();
            let why = self.last_error.clone().unwrap_or_default();
            return (
                "error",
                Some(format!(
                    "{why} ({} attempts failed in a row since {since})",
                    self.failures_in_row
                )),
            );
        }
        ("connected", None)
    }
}

/// A message for an omni channel's webhook.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The channel's id.
    pub channel: String,
    /// `conversation.message` or `conversation.status`.
    pub kind: EventType,
    /// The JSON body.
    pub body: String,
}

/// The body of an outgoing event: `type`, `channel`, `conversation` (the
/// outside system's id), `created_at` and `data`.
pub fn body(kind: EventType, channel: &str, conversation: &str, data: Value) -> String {
    json!({
        "type": kind.as_str(),
        "channel": channel,
        "conversation": conversation,
        "created_at": ura_webhooks::rfc3339_ms(now_ms()),
        "data": data,
    })
    .to_string()
}

enum Control {
    Restart(String, oneshot::Sender<usize>),
}

/// The running delivery task's handle (cheap to clone).
#[derive(Clone)]
pub struct Omni {
    out: mpsc::Sender<Outgoing>,
    hooks: Arc<watch::Sender<Vec<Hook>>>,
    control: mpsc::Sender<Control>,
    health: Arc<Mutex<HashMap<String, Health>>>,
}

/// The omni channels of a configuration as webhooks.
pub fn hooks_of(routing: &crate::routing::RoutingConfig) -> Vec<Hook> {
    routing
        .channels
        .iter()
        .filter(|(_, c)| c.kind == ura_channels::ChannelType::Omni)
        .map(|(id, c)| Hook {
            id: hook_id(id),
            company: None,
            url: c.omni.webhook_url.trim().to_string(),
            secret: c.omni.secret.clone(),
            events: 0,
            enabled: c.enabled,
        })
        .collect()
}

impl Omni {
    /// Starts the task: the stored pending deliveries of omni channels are
    /// taken back, then messages are delivered to `hooks` (the omni
    /// channels, replaced with [`Omni::set_hooks`]).
    pub async fn start(
        store: ura_store::Store,
        hooks: Vec<Hook>,
    ) -> Result<Omni, ura_store::StoreError> {
        let mut outbox = Outbox::new(limits(), fastrand::u64(..));
        outbox.set_hooks(hooks.clone());
        let now = now_ms();
        let mut restored = 0;
        for row in store.pending_deliveries().await? {
            if !row.webhook.starts_with(CHANNEL_HOOK) {
                continue;
            }
            match ura_api::delivery_of(&row) {
                Some(d) => {
                    outbox.restore(now, d);
                    restored += 1;
                }
                None => tracing::warn!(delivery = %row.id, "a stored omni delivery cannot be read"),
            }
        }
        if restored > 0 {
            tracing::info!(
                deliveries = restored,
                "pending omni channel deliveries taken back"
            );
        }
        let (out, out_rx) = mpsc::channel(QUEUE);
        let (hooks_tx, hooks_rx) = watch::channel(hooks);
        let (control, control_rx) = mpsc::channel(16);
        let health = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(run(
            store,
            outbox,
            out_rx,
            hooks_rx,
            control_rx,
            health.clone(),
        ));
        Ok(Omni {
            out,
            hooks: Arc::new(hooks_tx),
            control,
            health,
        })
    }

    /// The omni channels changed.
    pub fn set_hooks(&self, hooks: Vec<Hook>) {
        self.hooks.send_replace(hooks);
    }

    /// Hands a message over, waiting for room; false when the task is
    /// gone (ura is stopping).
    pub async fn send(&self, m: Outgoing) -> bool {
        self.out.send(m).await.is_ok()
    }

    /// A channel's state and reason.
    pub fn state(&self, channel: &str, enabled: bool) -> (&'static str, Option<String>) {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .cloned()
            .unwrap_or_default()
            .state(enabled)
    }

    /// Clears a channel's error and sends its waiting deliveries now; how
    /// many were waiting.
    pub async fn restart(&self, channel: &str) -> usize {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(channel);
        let (tx, rx) = oneshot::channel();
        if self
            .control
            .send(Control::Restart(channel.to_string(), tx))
            .await
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

async fn run(
    store: ura_store::Store,
    mut outbox: Outbox,
    mut out: mpsc::Receiver<Outgoing>,
    mut hooks: watch::Receiver<Vec<Hook>>,
    mut control: mpsc::Receiver<Control>,
    health: Arc<Mutex<HashMap<String, Health>>>,
) {
    let agent = ura_api::http_agent();
    // At most the outbox's in-flight limit of results are outstanding.
    let (results_tx, mut results) = mpsc::channel::<(DeliveryId, String, Result<u16, String>)>(64);
    let mut store_failing = 0u64;
    let mut lost = 0u64;
    loop {
        let mut saves = Vec::new();
        while let Some(o) = outbox.poll_output() {
            match o {
                Output::Save(d) => saves.push(ura_api::row_of(&d)),
                Output::Transmit(a) => {
                    let agent = agent.clone();
                    let tx = results_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let result = ura_api::post_signed(&agent, &a);
                        let _ = tx.blocking_send((a.delivery, a.hook, result));
                    });
                }
            }
        }
        if !saves.is_empty() {
            if let Err(e) = store.save_deliveries(&saves).await {
                store_failing += 1;
                if store_failing.is_power_of_two() {
                    tracing::error!(error = %e, times = store_failing, "omni delivery log not saved");
                }
            }
        }
        let wake = outbox.poll_timeout();
        let sleep = async {
            match wake {
                Some(t) => {
                    tokio::time::sleep(Duration::from_millis((t - now_ms()).max(0) as u64)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = out.recv() => {
                let Some(m) = m else { return };
                let now = now_ms();
                let mut batch = vec![m];
                while batch.len() < 512 {
                    match out.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                for m in batch {
                    if outbox.push(now, &hook_id(&m.channel), m.kind, Arc::from(m.body)).is_none() {
                        lost += 1;
                        if lost.is_power_of_two() {
                            tracing::error!(channel = %m.channel, lost, "omni message not queued: the channel is gone or holds its most pending deliveries");
                        }
                    }
                }
            }
            r = results.recv() => {
                if let Some((id, hook, result)) = r {
                    let now = now_ms();
                    let channel = hook.strip_prefix(CHANNEL_HOOK).unwrap_or(&hook).to_string();
                    // A channel deleted meanwhile keeps no state (one made
                    // again under its id starts connected).
                    if hooks.borrow().iter().any(|h| h.id == hook) {
                        let mut h = health.lock().unwrap_or_else(|e| e.into_inner());
                        let entry = h.entry(channel.clone()).or_default();
                        let was = entry.failures_in_row;
                        entry.attempt(now, &result);
                        if was < ERROR_AFTER && entry.failures_in_row >= ERROR_AFTER {
                            tracing::warn!(%channel, error = ?entry.last_error, "omni channel in error: its webhook keeps failing");
                        } else if was >= ERROR_AFTER && entry.failures_in_row == 0 {
                            tracing::info!(%channel, "omni channel connected again: its webhook answers");
                        }
                    }
                    outbox.handle_result(now, id, result);
                }
            }
            changed = hooks.changed() => {
                if changed.is_err() { return }
                let list = hooks.borrow_and_update().clone();
                health.lock().unwrap_or_else(|e| e.into_inner()).retain(|channel, _| {
                    list.iter().any(|h| h.id.strip_prefix(CHANNEL_HOOK) == Some(channel.as_str()))
                });
                outbox.set_hooks(list);
            }
            c = control.recv() => match c {
                Some(Control::Restart(channel, reply)) => {
                    let n = outbox.retry_now(&hook_id(&channel));
                    let _ = reply.send(n);
                }
                None => return,
            },
            _ = sleep => outbox.handle_timeout(now_ms()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_in_error_after_failures_in_a_row_and_back_on_success() {
        let mut h = Health::default();
        assert_eq!(h.state(true), ("connected", None));
        h.attempt(1_000, &Err("connection refused".into()));
        h.attempt(2_000, &Ok(503));
        assert_eq!(h.state(true).0, "connected");
        h.attempt(3_000, &Ok(500));
        let (state, why) = h.state(true);
        assert_eq!(state, "error");
        let why = why.unwrap();
        assert!(why.contains("HTTP 500"), "{why}");
        assert!(why.contains("3 attempts"), "{why}");
        assert!(why.contains("1970-01-01T00:00:01.000Z"), "{why}");
        assert_eq!(h.state(false), ("disabled", None));
        h.attempt(4_000, &Ok(204));
        assert_eq!(h.state(true), ("connected", None));
        assert_eq!(h.delivered, 1);
    }
}
