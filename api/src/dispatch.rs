//! The webhook dispatcher: a task that owns the [`Outbox`], turns the
//! core's events into deliveries (finding each event's company), sends the
//! requests on blocking threads (ureq, bounded by the outbox's in-flight
//! limit, 10 s each), and keeps the delivery log in the store. It is the
//! only place a slow receiver or a slow store is felt: the core's events
//! wait in a bounded channel and are dropped (counted) when it is full.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use ura_store::{DeliveryRow, Store, WebhookRow};
use ura_webhooks::{
    now_ms, sign, Attempt, Delivery, DeliveryId, Event, EventSink, EventType, Hook, Limits, Outbox,
    Output, Status, Subject, SIGNATURE_HEADER,
};

use crate::docs::DEFAULT_COMPANY;

/// How long one request may take (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long settled deliveries stay in the log.
pub const LOG_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Which company an event's subject belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Every form of every number → its company.
    pub numbers: HashMap<String, String>,
    /// Agent extension → company.
    pub agents: HashMap<String, String>,
}

impl Directory {
    /// The company of `subject` (the default one when it is unknown).
    pub fn company(&self, subject: &Subject) -> String {
        let found = match subject {
            Subject::Number(n) => self.numbers.get(n),
            Subject::Agent(a) => self.agents.get(a),
            Subject::Company(c) => return c.clone(),
        };
        found.cloned().unwrap_or_else(|| DEFAULT_COMPANY.into())
    }
}

/// What the API tells the dispatcher.
pub(crate) enum Control {
    /// The webhooks changed: here they all are. The reply comes once the
    /// events they want are being taken (so an event right after the API's
    /// answer is not missed).
    Hooks(Vec<WebhookRow>, oneshot::Sender<()>),
    /// The configuration changed: here is who owns what.
    Directory(Directory),
    /// Send a test event to a webhook; the delivery's id comes back.
    Ping {
        hook: String,
        company: String,
        reply: oneshot::Sender<Option<DeliveryId>>,
    },
}

/// The API's end of the dispatcher.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    pub(crate) control: mpsc::Sender<Control>,
}

/// A stored webhook as the outbox needs it.
pub(crate) fn hook_of(row: &WebhookRow) -> Hook {
    let names: Vec<String> = serde_json::from_str(&row.events).unwrap_or_default();
    let events = names
        .iter()
        .filter_map(|n| {
            if n == "*" {
                Some(EventType::ALL.iter().fold(0, |m, t| m | t.bit()))
            } else {
                n.parse::<EventType>().ok().map(EventType::bit)
            }
        })
        .fold(0, |m, b| m | b);
    Hook {
        id: row.id.clone(),
        company: row.company.clone(),
        url: row.url.clone(),
        secret: row.secret.clone(),
        events,
        enabled: row.enabled,
    }
}

/// A delivery as the delivery log keeps it.
pub fn row_of(d: &Delivery) -> DeliveryRow {
    DeliveryRow {
        id: d.id.to_string(),
        webhook: d.hook.clone(),
        event_id: d.event_id.clone(),
        event: d.event.as_str().into(),
        body: d.body.to_string(),
        created_ms: d.created_ms,
        attempts: i64::from(d.attempts),
        status: d.status.as_str().into(),
        next_ms: d.next_ms,
        last_ms: d.last_ms,
        last_code: d.last_code.map(i64::from),
        last_error: d.last_error.clone(),
    }
}

/// A delivery from the log (`None`: the row cannot be read).
pub fn delivery_of(r: &DeliveryRow) -> Option<Delivery> {
    Some(Delivery {
        id: r.id.parse().ok()?,
        hook: r.webhook.clone(),
        event_id: r.event_id.clone(),
        event: EventType::from_name(&r.event)?,
        body: Arc::from(r.body.as_str()),
        created_ms: r.created_ms,
        attempts: u32::try_from(r.attempts).ok()?,
        status: Status::parse(&r.status)?,
        next_ms: r.next_ms,
        last_ms: r.last_ms,
        last_code: r.last_code.and_then(|c| u16::try_from(c).ok()),
        last_error: r.last_error.clone(),
    })
}

/// Starts the dispatcher: the stored webhooks and pending deliveries are
/// taken back, then events from `events` are delivered.
pub(crate) async fn start(
    store: Store,
    events: mpsc::Receiver<Event>,
    sink: EventSink,
    directory: Directory,
) -> Result<Dispatcher, ura_store::StoreError> {
    let mut outbox = Outbox::new(Limits::default(), fastrand::u64(..));
    let hooks = store.webhooks().await?;
    sink.set_wanted(outbox.set_hooks(hooks.iter().map(hook_of).collect()));
    let now = now_ms();
    let mut pending = store.pending_deliveries().await?;
    // An omni channel's deliveries are its own task's.
    pending.retain(|r| !r.webhook.starts_with(ura_webhooks::CHANNEL_HOOK));
    let restored = pending.len();
    for row in &pending {
        match delivery_of(row) {
            Some(d) => outbox.restore(now, d),
            None => tracing::warn!(delivery = %row.id, "a stored webhook delivery cannot be read"),
        }
    }
    if restored > 0 {
        tracing::info!(
            deliveries = restored,
            "pending webhook deliveries taken back"
        );
    }
    let (control, control_rx) = mpsc::channel(64);
    tokio::spawn(run(store, outbox, events, control_rx, sink, directory));
    Ok(Dispatcher { control })
}

/// The HTTP client webhooks are sent with: 10 s per request, no
/// redirects, any status taken as an answer.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("ura/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

async fn run(
    store: Store,
    mut outbox: Outbox,
    mut events: mpsc::Receiver<Event>,
    mut control: mpsc::Receiver<Control>,
    sink: EventSink,
    mut directory: Directory,
) {
    let agent = http_agent();
    // At most the outbox's in-flight limit of results can be outstanding.
    let (results_tx, mut results) = mpsc::channel::<(DeliveryId, Result<u16, String>)>(64);
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    let mut events_open = true;
    let mut store_failing = 0u64;
    loop {
        let mut saves = Vec::new();
        while let Some(out) = outbox.poll_output() {
            match out {
                Output::Save(d) => saves.push(row_of(&d)),
                Output::Transmit(a) => {
                    let agent = agent.clone();
                    let tx = results_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let id = a.delivery;
                        let result = post_signed(&agent, &a);
                        let _ = tx.blocking_send((id, result));
                    });
                }
            }
        }
        if !saves.is_empty() {
            if let Err(e) = store.save_deliveries(&saves).await {
                store_failing += 1;
                if store_failing.is_power_of_two() {
                    tracing::error!(error = %e, times = store_failing, "webhook delivery log not saved");
                }
            }
        }
        let wake = outbox.poll_timeout();
        let sleep = async {
            match wake {
                Some(t) => {
                    let wait = (t - now_ms()).max(0) as u64;
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = events.recv(), if events_open => match ev {
                Some(ev) => {
                    let now = now_ms();
                    outbox.handle_event(now, &ev, &directory.company(&ev.subject));
                    // What else is waiting goes in the same batch (one
                    // transaction for the log).
                    for _ in 0..511 {
                        let Ok(ev) = events.try_recv() else { break };
                        outbox.handle_event(now, &ev, &directory.company(&ev.subject));
                    }
                }
                None => events_open = false,
            },
            r = results.recv() => {
                if let Some((id, result)) = r {
                    outbox.handle_result(now_ms(), id, result);
                }
            }
            c = control.recv() => match c {
                Some(Control::Hooks(rows, applied)) => {
                    sink.set_wanted(outbox.set_hooks(rows.iter().map(hook_of).collect()));
                    let _ = applied.send(());
                }
                Some(Control::Directory(d)) => directory = d,
                Some(Control::Ping { hook, company, reply }) => {
                    let _ = reply.send(outbox.ping(now_ms(), &hook, &company));
                }
                None => return,
            },
            _ = sleep => outbox.handle_timeout(now_ms()),
            _ = prune.tick() => {
                let before = now_ms() - LOG_KEEP.as_millis() as i64;
                if let Err(e) = store.prune_deliveries(before).await {
                    tracing::warn!(error = %e, "old webhook deliveries not pruned");
                }
            }
        }
    }
}

/// One request: the JSON body, signed now. The receiver's status, or why
/// none came. Blocking: call it off the async threads.
pub fn post_signed(agent: &ureq::Agent, a: &Attempt) -> Result<u16, String> {
    let signature = sign(&a.secret, now_ms() / 1000, a.body.as_bytes());
    agent
        .post(&a.url)
        .header("Content-Type", "application/json")
        .header("Ura-Event", a.event.as_str())
        .header("Ura-Delivery", a.delivery.to_string())
        .header("Ura-Attempt", a.attempt.to_string())
        .header(SIGNATURE_HEADER, &signature)
        .send(a.body.as_bytes())
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}
