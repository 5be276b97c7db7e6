//! Events and their JSON body.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::WebhookError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A call for a configured number reached the core.
    CallStarted,
    /// ura answered the call.
    CallAnswered,
    /// The call ended (or was refused); `data` is its call record.
    CallEnded,
    /// The caller chose a service in an IVR menu.
    IvrOptionSelected,
    /// The caller entered an agent queue.
    QueueEntered,
    /// The caller left the queue: to an agent, or not.
    QueueLeft,
    /// An agent's state changed.
    AgentState,
    /// A test event sent by `POST /api/v1/webhooks/{id}/ping`.
    Ping,
    /// An omni channel's conversation: a message for the customer.
    ConversationMessage,
    /// An omni channel's conversation: its phase or position changed.
    ConversationStatus,
}

impl EventType {
    /// Every type a webhook can subscribe to.
    pub const ALL: [EventType; 8] = [
        EventType::CallStarted,
        EventType::CallAnswered,
        EventType::CallEnded,
        EventType::IvrOptionSelected,
        EventType::QueueEntered,
        EventType::QueueLeft,
        EventType::AgentState,
        EventType::Ping,
    ];

    /// Its name (`call.started`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CallStarted => "call.started",
            EventType::CallAnswered => "call.answered",
            EventType::CallEnded => "call.ended",
            EventType::IvrOptionSelected => "ivr.option_selected",
            EventType::QueueEntered => "queue.entered",
            EventType::QueueLeft => "queue.left",
            EventType::AgentState => "agent.state",
            EventType::Ping => "ping",
            EventType::ConversationMessage => "conversation.message",
            EventType::ConversationStatus => "conversation.status",
        }
    }

    /// What an omni channel's webhook receives (not subscribed to: every
    /// omni channel gets its own conversations' events).
    pub const CONVERSATION: [EventType; 2] = [
        EventType::ConversationMessage,
        EventType::ConversationStatus,
    ];

    /// The type a name names, of [`EventType::ALL`] or
    /// [`EventType::CONVERSATION`] (a stored delivery's).
    pub fn from_name(s: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .chain(EventType::CONVERSATION)
            .find(|t| t.as_str() == s)
    }

    /// Its bit in a subscription mask.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = WebhookError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| WebhookError::UnknownEvent(s.to_string()))
    }
}

/// What an event is about: the dispatcher finds its company from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A number, as dialled.
    Number(String),
    /// An agent, by extension.
    Agent(String),
    /// A company, directly.
    Company(String),
}

/// One event, as the core hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its type.
    pub kind: EventType,
    /// What it is about.
    pub subject: Subject,
    /// When it happened (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// Its details.
    pub data: Value,
}

impl Event {
    /// The JSON body every subscribed webhook receives: `id`, `type`,
    /// `created_at` (RFC 3339, milliseconds), `company` and `data`.
    pub fn body(&self, id: &str, company: &str) -> String {
        json!({
            "id": id,
            "type": self.kind.as_str(),
            "created_at": rfc3339_ms(self.at_ms),
            "company": company,
            "data": self.data,
        })
        .to_string()
    }
}

/// `2026-11-25T21:54:17.123Z` for milliseconds since the epoch.
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut mask = 0;
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(mask & t.bit(), 0);
            mask |= t.bit();
        }
        assert!("call.exploded".parse::<EventType>().is_err());
        for t in EventType::CONVERSATION {
            assert!(t.as_str().parse::<EventType>().is_err(), "not subscribable");
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T21:54:17.123Z (checked with `date -u -d @1795643657`).
        assert_eq!(rfc3339_ms(1_795_643_657_123), "2026-11-25T21:54:17.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_body_names_type_company_and_data() {
        let e = Event {
            kind: EventType::QueueEntered,
            subject: Subject::Number("1000".into()),
            at_ms: 0,
            data: json!({"queue": "vendas"}),
        };
        let v: Value = serde_json::from_str(&e.body("evt_1", "acme")).unwrap();
        assert_eq!(v["type"], "queue.entered");
        assert_eq!(v["company"], "acme");
        assert_eq!(v["id"], "evt_1");
        assert_eq!(v["data"]["queue"], "vendas");
    }
}
