//! Where the core hands events over: a bounded channel that never waits,
//! and a subscription mask so that nothing is built for an event type no
//! webhook wants.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::{Event, EventType, Subject};

/// Events the channel holds before the next are dropped (and counted).
pub const EVENT_QUEUE: usize = 65_536;

/// The core's end: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    mask: AtomicU32,
    dropped: AtomicU64,
}

/// A sink and the dispatcher's receiving end, holding `capacity` events.
pub fn channel(capacity: usize) -> (EventSink, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let sink = EventSink {
        tx,
        shared: Arc::default(),
    };
    (sink, rx)
}

impl EventSink {
    /// Whether some enabled webhook subscribes to `kind` (one atomic load).
    pub fn wants(&self, kind: EventType) -> bool {
        self.shared.mask.load(Ordering::Relaxed) & kind.bit() != 0
    }

    /// Sets which types are wanted (the dispatcher, when webhooks change).
    pub fn set_wanted(&self, mask: u32) {
        self.shared.mask.store(mask, Ordering::Relaxed);
    }

    /// Hands an event over when it is wanted; `data` is built only then.
    /// A full channel drops the event and counts it: the core never waits.
    pub fn emit(&self, kind: EventType, subject: Subject, data: impl FnOnce() -> Value) {
        if !self.wants(kind) {
            return;
        }
        let event = Event {
            kind,
            subject,
            at_ms: now_ms(),
            data: data(),
        };
        if self.tx.try_send(event).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// The wall clock in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nothing_is_built_or_sent_for_an_unwanted_type_and_a_full_channel_counts() {
        let (sink, mut rx) = channel(2);
        let mut built = 0;
        sink.emit(EventType::CallStarted, Subject::Number("1".into()), || {
            built += 1;
            json!({})
        });
        assert_eq!(built, 0);
        assert!(rx.try_recv().is_err());
        sink.set_wanted(EventType::CallStarted.bit());
        for _ in 0..3 {
            sink.emit(EventType::CallStarted, Subject::Number("1".into()), || {
                json!({})
            });
        }
        sink.emit(EventType::CallEnded, Subject::Number("1".into()), || {
            json!({})
        });
        assert_eq!(sink.dropped(), 1);
        assert_eq!(rx.try_recv().unwrap().kind, EventType::CallStarted);
        assert_eq!(rx.try_recv().unwrap().kind, EventType::CallStarted);
        assert!(rx.try_recv().is_err());
    }
}
