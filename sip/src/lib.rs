//! SIP for ura: messages, RFC 3261 transactions and dialogs (sans-I/O), SDP
//! offer/answer, and framing for stream transports.
//!
//! The protocol core ([`endpoint::Endpoint`], [`transaction`], [`dialog`])
//! never reads the clock or touches a socket: time is an input and output is
//! polled. The driver that owns sockets lives in the `ura` engine.

pub mod auth;
pub mod builder;
pub mod dialog;
pub mod endpoint;
pub mod error;
pub mod framing;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod transaction;
pub mod transport;

pub use auth::{AuthPolicy, DigestOffer, LockoutScope};
pub use dialog::DialogId;
pub use endpoint::OutgoingCall;
pub use endpoint::{EndReason, Endpoint, EndpointConfig, Event, IncomingCall, Output};
pub use error::SipError;
pub use message::Message;
pub use registrar::{Binding, UnregisterReason};
pub use transaction::TimerConfig;
pub use transport::{ConnectionId, Flow, Transmit, Transport};
