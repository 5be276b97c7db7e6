//! The delivery schedule (sans-I/O): which webhooks get an event, when
//! each attempt goes out, when a delivery is given up.
//!
//! Time is milliseconds since the Unix epoch, given with every input (a
//! delivery's schedule is kept in the store and outlives a restart).
//! Outputs are requests to send ([`Output::Transmit`]) and delivery states
//! to keep ([`Output::Save`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::{Event, EventType};

/// A webhook, as the schedule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Its id.
    pub id: String,
    /// Whose events it gets; `None`: every company's (a super-admin's).
    pub company: Option<String>,
    /// Where requests go.
    pub url: String,
    /// The HMAC key.
    pub secret: String,
    /// The event types it subscribes to ([`EventType::bit`]s).
    pub events: u32,
    /// Disabled: no new deliveries, and pending ones wait.
    pub enabled: bool,
}

/// A delivery's id (`dlv_` and 16 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(pub u64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dlv_{:016x}", self.0)
    }
}

impl FromStr for DeliveryId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("dlv_").ok_or(())?;
        if hex.len() != 16 {
            return Err(());
        }
        u64::from_str_radix(hex, 16).map(DeliveryId).map_err(|_| ())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not yet accepted by the receiver; more attempts to come.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: no 2xx within the retry period.
    Failed,
    /// Abandoned: its webhook was deleted.
    Dropped,
}

impl Status {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Dropped => "dropped",
        }
    }

    /// The status a stored word names.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Delivered,
            Status::Failed,
            Status::Dropped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One event for one webhook, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The webhook's id.
    pub hook: String,
    /// The event's id (the same for every webhook that gets it).
    pub event_id: String,
    /// The event's type.
    pub event: EventType,
    /// The JSON body sent.
    pub body: Arc<str>,
    /// When the event happened.
    pub created_ms: i64,
    /// Attempts made.
    pub attempts: u32,
    /// Where it stands.
    pub status: Status,
    /// When the next attempt is due (pending only; `None`: at once).
    pub next_ms: Option<i64>,
    /// When the last attempt was made.
    pub last_ms: Option<i64>,
    /// The last attempt's HTTP status, if one came back.
    pub last_code: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The delivery.
    pub delivery: DeliveryId,
    /// The webhook's id.
    pub hook: String,
    /// Where to POST.
    pub url: String,
    /// The key to sign with.
    pub secret: String,
    /// The event's type (a header says it).
    pub event: EventType,
    /// The JSON body.
    pub body: Arc<str>,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
}

/// What the schedule wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request and report with [`Outbox::handle_result`].
    Transmit(Attempt),
    /// Keep this delivery's state (the delivery log).
    Save(Delivery),
}

/// The schedule's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Requests in flight in all.
    pub in_flight: usize,
    /// Requests in flight to one webhook: a slow receiver holds only these.
    pub in_flight_per_hook: usize,
    /// Pending deliveries per webhook; past it new events are dropped
    /// for that webhook (and counted).
    pub pending_per_hook: usize,
    /// How long after the event attempts go on.
    pub give_up_ms: i64,
    /// Waits between attempts; the last repeats.
    pub backoff_ms: Vec<i64>,
}

impl Default for Limits {
    fn default() -> Self {
        const S: i64 = 1000;
        Limits {
            in_flight: 16,
            in_flight_per_hook: 4,
            pending_per_hook: 10_000,
            give_up_ms: 24 * 3600 * S,
            // 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h, 2 h,
            // then every 4 h: 15 attempts within the 24 hours.
            backoff_ms: vec![
                10 * S,
                30 * S,
                60 * S,
                120 * S,
                300 * S,
                600 * S,
                1800 * S,
                3600 * S,
                7200 * S,
                14_400 * S,
            ],
        }
    }
}

#[derive(Debug)]
struct HookState {
    hook: Hook,
    /// Due now, oldest first.
    ready: VecDeque<DeliveryId>,
    in_flight: usize,
    /// Pending deliveries (ready, waiting or in flight).
    pending: usize,
    /// New events not queued because `pending` was at its cap.
    dropped: u64,
    /// In `runnable` now.
    queued: bool,
}

/// Counters of one webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookStats {
    /// Deliveries not yet settled.
    pub pending: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Events not queued because too many were pending.
    pub dropped: u64,
}

/// The delivery schedule of every webhook.
#[derive(Debug)]
pub struct Outbox {
    limits: Limits,
    hooks: BTreeMap<String, HookState>,
    deliveries: HashMap<DeliveryId, Delivery>,
    /// Deliveries whose request is out.
    sending: HashSet<DeliveryId>,
    timers: BTreeSet<(i64, DeliveryId)>,
    runnable: VecDeque<String>,
    out: VecDeque<Output>,
    rng: fastrand::Rng,
}

impl Outbox {
    /// An empty schedule; `seed` makes its ids.
    pub fn new(limits: Limits, seed: u64) -> Outbox {
        Outbox {
            limits,
            hooks: BTreeMap::new(),
            deliveries: HashMap::new(),
            sending: HashSet::new(),
            timers: BTreeSet::new(),
            runnable: VecDeque::new(),
            out: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Replaces the webhooks. Pending deliveries of a webhook that is gone
    /// are dropped; the event types wanted now are returned (a mask).
    pub fn set_hooks(&mut self, hooks: Vec<Hook>) -> u32 {
        let mut next: BTreeMap<String, HookState> = hooks
            .into_iter()
            .map(|hook| {
                let id = hook.id.clone();
                let state = match self.hooks.remove(&id) {
                    Some(mut s) => {
                        s.hook = hook;
                        s
                    }
                    None => HookState {
                        hook,
                        ready: VecDeque::new(),
                        in_flight: 0,
                        pending: 0,
                        dropped: 0,
                        queued: false,
                    },
                };
                (id, state)
            })
            .collect();
        let gone: Vec<DeliveryId> = self
            .deliveries
            .values()
            .filter(|d| !next.contains_key(&d.hook) && !self.sending.contains(&d.id))
            .map(|d| d.id)
            .collect();
        for id in gone {
            if let Some(mut d) = self.deliveries.remove(&id) {
                d.status = Status::Dropped;
                d.next_ms = None;
                d.last_error = Some("webhook deleted".into());
                self.out.push_back(Output::Save(d));
            }
        }
        // A deleted webhook's requests in flight are settled (dropped) when
        // their results come in.
        for (id, s) in next.iter_mut() {
            if !s.ready.is_empty() && s.hook.enabled && !s.queued {
                s.queued = true;
                self.runnable.push_back(id.clone());
            }
        }
        std::mem::swap(&mut self.hooks, &mut next);
        self.wanted()
    }

    /// The event types some enabled webhook subscribes to.
    pub fn wanted(&self) -> u32 {
        self.hooks
            .values()
            .filter(|s| s.hook.enabled)
            .fold(0, |m, s| m | s.hook.events)
    }

    /// A webhook's counters.
    pub fn stats(&self, hook: &str) -> Option<HookStats> {
        self.hooks.get(hook).map(|s| HookStats {
            pending: s.pending,
            in_flight: s.in_flight,
            dropped: s.dropped,
        })
    }

    /// An event of `company` happened: a delivery for each enabled webhook
    /// that subscribes to its type. Returns the event's id.
    pub fn handle_event(&mut self, now: i64, event: &Event, company: &str) -> String {
        let event_id = format!("evt_{:016x}", self.rng.u64(..));
        let mut body: Option<Arc<str>> = None;
        let targets: Vec<String> = self
            .hooks
            .values()
            .filter(|s| {
                s.hook.enabled
                    && s.hook.events & event.kind.bit() != 0
                    && s.hook.company.as_deref().is_none_or(|c| c == company)
            })
            .map(|s| s.hook.id.clone())
            .collect();
        for hook in targets {
            let body = body
                .get_or_insert_with(|| Arc::from(event.body(&event_id, company)))
                .clone();
            self.create(now, &hook, &event_id, event.kind, body, event.at_ms);
        }
        event_id
    }

    /// A test event for one webhook, whatever it subscribes to (and even
    /// when it is disabled: it waits until enabled). False: no such webhook.
    pub fn ping(&mut self, now: i64, hook: &str, company: &str) -> Option<DeliveryId> {
        if !self.hooks.contains_key(hook) {
            return None;
        }
        let event_id = format!("evt_{:016x}", self.rng.u64(..));
        let event = Event {
            kind: EventType::Ping,
            subject: crate::Subject::Company(company.to_string()),
            at_ms: now,
            data: serde_json::json!({ "webhook": hook }),
        };
        let body = Arc::from(event.body(&event_id, company));
        self.create(now, hook, &event_id, EventType::Ping, body, now)
    }

    fn create(
        &mut self,
        now: i64,
        hook: &str,
        event_id: &str,
        kind: EventType,
        body: Arc<str>,
        created_ms: i64,
    ) -> Option<DeliveryId> {
        let state = self.hooks.get_mut(hook)?;
        if state.pending >= self.limits.pending_per_hook {
            state.dropped += 1;
            return None;
        }
        let id = loop {
            let id = DeliveryId(self.rng.u64(..));
            if !self.deliveries.contains_key(&id) {
                break id;
            }
        };
        let d = Delivery {
            id,
            hook: hook.to_string(),
            event_id: event_id.to_string(),
            event: kind,
            body,
            created_ms: created_ms.min(now),
            attempts: 0,
            status: Status::Pending,
            next_ms: None,
            last_ms: None,
            last_code: None,
            last_error: None,
        };
        state.pending += 1;
        state.ready.push_back(id);
        if !state.queued && state.hook.enabled {
            state.queued = true;
            self.runnable.push_back(hook.to_string());
        }
        self.out.push_back(Output::Save(d.clone()));
        self.deliveries.insert(id, d);
        Some(id)
    }

    /// A delivery of `body` to one webhook (an omni channel's message),
    /// whatever it subscribes to; `None` when there is no such webhook or
    /// it holds its most pending deliveries (counted in its `dropped`).
    pub fn push(
        &mut self,
        now: i64,
        hook: &str,
        kind: EventType,
        body: Arc<str>,
    ) -> Option<DeliveryId> {
        let event_id = format!("evt_{:016x}", self.rng.u64(..));
        self.create(now, hook, &event_id, kind, body, now)
    }

    /// Makes every waiting delivery of `hook` due now (a restart of the
    /// receiver's side); how many.
    pub fn retry_now(&mut self, hook: &str) -> usize {
        let due: Vec<(i64, DeliveryId)> = self
            .timers
            .iter()
            .filter(|(_, id)| self.deliveries.get(id).is_some_and(|d| d.hook == hook))
            .copied()
            .collect();
        let Some(state) = self.hooks.get_mut(hook) else {
            return 0;
        };
        for t in &due {
            self.timers.remove(t);
            state.ready.push_back(t.1);
        }
        if !state.ready.is_empty() && !state.queued && state.hook.enabled {
            state.queued = true;
            self.runnable.push_back(hook.to_string());
        }
        due.len()
    }

    /// Takes back a pending delivery kept in the store (at start).
    pub fn restore(&mut self, now: i64, mut d: Delivery) {
        if d.status != Status::Pending || self.deliveries.contains_key(&d.id) {
            return;
        }
        let Some(state) = self.hooks.get_mut(&d.hook) else {
            d.status = Status::Dropped;
            d.next_ms = None;
            d.last_error = Some("webhook deleted".into());
            self.out.push_back(Output::Save(d));
            return;
        };
        state.pending += 1;
        let due = d.next_ms.unwrap_or(now);
        if due <= now {
            state.ready.push_back(d.id);
            if !state.queued && state.hook.enabled {
                state.queued = true;
                self.runnable.push_back(d.hook.clone());
            }
        } else {
            self.timers.insert((due, d.id));
        }
        self.deliveries.insert(d.id, d);
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        while self.sending.len() < self.limits.in_flight {
            let hook_id = self.runnable.pop_front()?;
            let Some(state) = self.hooks.get_mut(&hook_id) else {
                continue;
            };
            state.queued = false;
            if !state.hook.enabled || state.in_flight >= self.limits.in_flight_per_hook {
                // Queued again when enabled or when a request finishes.
                continue;
            }
            let Some(id) = state.ready.pop_front() else {
                continue;
            };
            if !state.ready.is_empty() {
                state.queued = true;
                self.runnable.push_back(hook_id.clone());
            }
            let Some(d) = self.deliveries.get(&id) else {
                continue;
            };
            state.in_flight += 1;
            self.sending.insert(id);
            return Some(Output::Transmit(Attempt {
                delivery: id,
                hook: hook_id,
                url: state.hook.url.clone(),
                secret: state.hook.secret.clone(),
                event: d.event,
                body: d.body.clone(),
                attempt: d.attempts + 1,
            }));
        }
        None
    }

    /// The outcome of an attempt: the HTTP status the receiver answered,
    /// or why no answer came (connection refused, timeout…).
    pub fn handle_result(&mut self, now: i64, id: DeliveryId, result: Result<u16, String>) {
        if !self.sending.remove(&id) {
            return; // not sent, or already settled
        }
        let Some(mut d) = self.deliveries.remove(&id) else {
            return;
        };
        let state = self.hooks.get_mut(&d.hook);
        d.attempts += 1;
        d.last_ms = Some(now);
        let ok = match result {
            Ok(code) => {
                d.last_code = Some(code);
                d.last_error = (!(200..300).contains(&code)).then(|| format!("HTTP {code}"));
                (200..300).contains(&code)
            }
            Err(e) => {
                d.last_code = None;
                d.last_error = Some(e);
                false
            }
        };
        let Some(state) = state else {
            d.status = Status::Dropped;
            d.next_ms = None;
            d.last_error = Some("webhook deleted".into());
            self.out.push_back(Output::Save(d));
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        if !state.ready.is_empty() && !state.queued && state.hook.enabled {
            state.queued = true;
            self.runnable.push_back(d.hook.clone());
        }
        let i = (d.attempts as usize).saturating_sub(1);
        let wait = self.limits.backoff_ms[i.min(self.limits.backoff_ms.len().saturating_sub(1))];
        let next = now + wait;
        if ok || next > d.created_ms + self.limits.give_up_ms {
            state.pending = state.pending.saturating_sub(1);
            d.status = if ok {
                Status::Delivered
            } else {
                Status::Failed
            };
            d.next_ms = None;
            self.out.push_back(Output::Save(d));
            return;
        }
        d.next_ms = Some(next);
        self.timers.insert((next, id));
        self.out.push_back(Output::Save(d.clone()));
        self.deliveries.insert(id, d);
    }

    /// When [`Outbox::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Makes the deliveries due at `now` ready to send.
    pub fn handle_timeout(&mut self, now: i64) {
        while let Some(&(t, id)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let Some(d) = self.deliveries.get(&id) else {
                continue;
            };
            let Some(state) = self.hooks.get_mut(&d.hook) else {
                continue;
            };
            state.ready.push_back(id);
            if !state.queued && state.hook.enabled {
                state.queued = true;
                self.runnable.push_back(d.hook.clone());
            }
        }
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.sending.len()
    }

    /// Deliveries not yet settled, in all.
    pub fn pending(&self) -> usize {
        self.deliveries.len()
    }
}
