//! ura's outgoing webhooks.
//!
//! Events happen in the engine's core (a call starts, is answered, ends; a
//! caller picks a menu option, enters or leaves a queue; an agent changes
//! state). The core hands each to an [`EventSink`], which never waits: a
//! bounded channel, and nothing at all is built for an event type no
//! webhook subscribes to. A dispatcher task resolves each event's company,
//! and the [`Outbox`] (sans-I/O: time in milliseconds since the Unix epoch
//! is an input) decides which webhooks get it, when each attempt is sent,
//! and when a delivery is given up: retried with backoff for 24 hours, at
//! most a few requests in flight per receiver, so a slow or dead receiver
//! holds only its own deliveries back, never a call.
//!
//! Every request is signed ([`sign`]): `Ura-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A receiver recomputes it
//! and refuses a timestamp outside its replay window ([`verify`]).

/// The webhook id an omni channel's deliveries are kept under in the
/// delivery log: this prefix and the channel's id. The admin API's
/// webhooks (`wh_…`) never start with it.
pub const CHANNEL_HOOK: &str = "channel:";

mod error;
mod event;
mod outbox;
mod sign;
mod sink;

pub use error::WebhookError;
pub use event::rfc3339_ms;
pub use event::{Event, EventType, Subject};
pub use outbox::{Attempt, Delivery, DeliveryId, Hook, HookStats, Limits, Outbox, Output, Status};
pub use sign::{sign, verify, REPLAY_WINDOW_S, SIGNATURE_HEADER};
pub use sink::{channel, now_ms, EventSink, EVENT_QUEUE};
