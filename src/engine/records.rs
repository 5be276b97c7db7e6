//! The call-record writer: the core (and the shedder) hand records to a
//! bounded queue, one task writes them to the store, retrying a record the
//! store refuses.
//!
//! Rules:
//! - the queue holds [`RECORD_QUEUE`] records (about 30 s of records at
//!   3,200 calls/s); a sender never waits: when the queue is full the
//!   record is counted as lost and the loss is logged (at most once a
//!   second, with the count);
//! - a record the store refuses is tried again with backoff (100 ms,
//!   doubling, at most 5 s apart) for up to [`Retry::give_up`] (1 minute);
//!   while it waits, later records wait in the queue behind it, so the
//!   order is kept; past the minute it is counted as lost and logged;
//! - on shutdown the writer drains what is queued, then closes the store.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use ura_store::{CallRecord, Store};
use ura_webhooks::{EventSink, EventType, Subject};

use super::admission::RateLimited;

/// Records waiting to be written, at most.
pub const RECORD_QUEUE: usize = 100_000;

/// Where records go (the store; a failing one in tests).
pub trait RecordSink: Send + Sync + 'static {
    /// Writes one record.
    fn write(&self, record: &CallRecord) -> impl Future<Output = Result<(), String>> + Send;
    /// Called once every record was handled.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl RecordSink for Store {
    async fn write(&self, record: &CallRecord) -> Result<(), String> {
        self.save_call(record).await.map_err(|e| e.to_string())
    }

    async fn close(&self) {
        Store::close(self).await;
    }
}

/// How a refused record is tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// First wait.
    pub first: Duration,
    /// Longest wait between tries.
    pub max: Duration,
    /// A record still refused this long after its first try is lost.
    pub give_up: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
            give_up: Duration::from_secs(60),
        }
    }
}

/// What the writer did, for logs and tests.
#[derive(Debug, Default)]
pub struct RecordStats {
    /// Written.
    pub written: AtomicU64,
    /// Accepted into the queue and not yet written or lost.
    pub pending: AtomicU64,
    /// Lost: the queue was full, or the store refused for too long.
    pub lost: AtomicU64,
    /// Calls ended, by how they ended (`caller-bye`, `closed`,
    /// `refused-503`…): every record handed in, written or not.
    pub by_cause: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    full: RateLimited,
    failing: RateLimited,
}

/// Hands records to the writer; never waits.
#[derive(Clone)]
pub struct RecordSender {
    tx: mpsc::Sender<CallRecord>,
    stats: Arc<RecordStats>,
    /// Webhook events: `call.answered` (the record at the answer) and
    /// `call.ended` (the final record), with the record as their data.
    events: Option<EventSink>,
}

impl RecordSender {
    /// The same sender, also handing webhook events to `events`.
    pub fn with_events(mut self, events: EventSink) -> Self {
        self.events = Some(events);
        self
    }

    /// Where webhook events go, if anywhere.
    pub fn events(&self) -> Option<EventSink> {
        self.events.clone()
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<RecordStats> {
        self.stats.clone()
    }

    /// Queues a record; when the queue is full the record is counted as
    /// lost (and logged, rate-limited). False only when that happened.
    pub fn send(&self, record: CallRecord) -> bool {
        let ended = record.hangup_cause != ura_store::IN_PROGRESS;
        // An unknown number's 404 is no company's call (a scanner's
        // guesses would otherwise reach the default company's receivers).
        if let Some(events) = self
            .events
            .as_ref()
            .filter(|_| record.hangup_cause != "refused-404")
        {
            let kind = if ended {
                EventType::CallEnded
            } else {
                EventType::CallAnswered
            };
            events.emit(kind, Subject::Number(record.number.clone()), || {
                let mut data = ura_api::call_json(&record);
                // The store gives the id when it writes the record.
                if let Some(o) = data.as_object_mut() {
                    o.remove("id");
                }
                data
            });
        }
        if let Some(mut by) = self.stats.by_cause.lock().ok().filter(|_| ended) {
            // Causes are a small set of ura's own words; a bounded map all the same.
            if by.len() < 256 || by.contains_key(&record.hangup_cause) {
                *by.entry(record.hangup_cause.clone()).or_default() += 1;
            }
        }
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(record) {
            Ok(()) => true,
            Err(e) => {
                self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                self.stats.lost.fetch_add(1, Ordering::Relaxed);
                if let Some(n) = self.stats.full.hit() {
                    let call = match &e {
                        mpsc::error::TrySendError::Full(r)
                        | mpsc::error::TrySendError::Closed(r) => r.sip_call_id.clone(),
                    };
                    tracing::error!(
                        lost = n,
                        total = self.stats.full.total(),
                        %call,
                        "call records lost: the record queue ({RECORD_QUEUE}) is full"
                    );
                }
                false
            }
        }
    }
}

/// The running writer.
pub struct RecordWriter {
    /// Its counters.
    pub stats: Arc<RecordStats>,
    finish: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordWriter {
    /// Writes what is queued, then stops; gives up after `within` and
    /// logs how many records were left unwritten.
    pub async fn finish(self, within: Duration) {
        let _ = self.finish.send(true);
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::error!(
                unwritten = self.stats.pending.load(Ordering::Relaxed),
                "stopping with call records not written (the store refuses them)"
            );
        }
        let lost = self.stats.lost.load(Ordering::Relaxed);
        if lost > 0 {
            tracing::error!(lost, "call records lost since start");
        }
    }
}

/// Starts the writer.
pub fn spawn<S: RecordSink>(sink: S, retry: Retry) -> (RecordSender, RecordWriter) {
    let (tx, mut rx) = mpsc::channel::<CallRecord>(RECORD_QUEUE);
    let (finish, mut finishing) = watch::channel(false);
    let stats = Arc::new(RecordStats::default());
    let s = stats.clone();
    let task = tokio::spawn(async move {
        loop {
            let record = tokio::select! {
                biased;
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => break,
                },
                _ = finishing.wait_for(|f| *f) => break,
            };
            write_one(&sink, &s, record, retry).await;
        }
        // Whatever was queued before the end.
        while let Ok(record) = rx.try_recv() {
            write_one(&sink, &s, record, retry).await;
        }
        sink.close().await;
    });
    (
        RecordSender {
            tx,
            stats: stats.clone(),
            events: None,
        },
        RecordWriter {
            stats,
            finish,
            task,
        },
    )
}

async fn write_one<S: RecordSink>(sink: &S, stats: &RecordStats, record: CallRecord, retry: Retry) {
    let first = Instant::now();
    let mut wait = retry.first;
    loop {
        match sink.write(&record).await {
            Ok(()) => {
                stats.written.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Err(e) if first.elapsed() >= retry.give_up => {
                stats.lost.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    call = %record.sip_call_id,
                    error = %e,
                    "call record lost: the store refused it for {:?}",
                    retry.give_up
                );
                break;
            }
            Err(e) => {
                if let Some(n) = stats.failing.hit() {
                    tracing::warn!(
                        call = %record.sip_call_id,
                        error = %e,
                        failures = n,
                        "call record not saved yet; trying again"
                    );
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(retry.max);
            }
        }
    }
    stats.pending.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use ura_store::HangupSide;

    /// Refuses the first `fail` writes, then keeps what it is given.
    struct Flaky {
        fail: AtomicU64,
        kept: Arc<Mutex<Vec<String>>>,
    }

    impl RecordSink for Flaky {
        async fn write(&self, record: &CallRecord) -> Result<(), String> {
            if self
                .fail
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err("unable to open database file".into());
            }
            self.kept.lock().unwrap().push(record.sip_call_id.clone());
            Ok(())
        }
        async fn close(&self) {}
    }

    fn record(i: usize) -> CallRecord {
        CallRecord {
            id: 0,
            sip_call_id: format!("c{i}"),
            started_at: String::new(),
            answered_at: None,
            ended_at: String::new(),
            caller: String::new(),
            number: "9100".into(),
            schedule: None,
            digits: String::new(),
            service: None,
            hangup_cause: "caller-bye".into(),
            hangup_side: HangupSide::Caller,
            queue: None,
            media_warning: None,
        }
    }

    fn quick(give_up_ms: u64) -> Retry {
        Retry {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
            give_up: Duration::from_millis(give_up_ms),
        }
    }

    #[tokio::test]
    async fn refused_records_are_retried_in_order() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = Flaky {
            fail: AtomicU64::new(5),
            kept: kept.clone(),
        };
        let (tx, writer) = spawn(sink, quick(10_000));
        for i in 0..3 {
            assert!(tx.send(record(i)));
        }
        let stats = writer.stats.clone();
        writer.finish(Duration::from_secs(5)).await;
        assert_eq!(*kept.lock().unwrap(), ["c0", "c1", "c2"]);
        assert_eq!(stats.written.load(Ordering::Relaxed), 3);
        assert_eq!(stats.lost.load(Ordering::Relaxed), 0);
        assert_eq!(stats.pending.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_record_refused_too_long_is_counted_lost() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = Flaky {
            fail: AtomicU64::new(u64::MAX),
            kept: kept.clone(),
        };
        let (tx, writer) = spawn(sink, quick(20));
        assert!(tx.send(record(0)));
        let stats = writer.stats.clone();
        writer.finish(Duration::from_secs(5)).await;
        assert!(kept.lock().unwrap().is_empty());
        assert_eq!(stats.lost.load(Ordering::Relaxed), 1);
        assert_eq!(stats.pending.load(Ordering::Relaxed), 0);
    }
}
