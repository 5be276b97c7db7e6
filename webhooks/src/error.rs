//! What can go wrong with webhooks.

/// A webhook error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The signature header is missing a part or is not in its format.
    #[error("malformed signature header: {0}")]
    MalformedSignature(String),
    /// The signature does not match the body and secret.
    #[error("signature does not match")]
    BadSignature,
    /// The signature's timestamp is outside the replay window.
    #[error("timestamp {timestamp} is {skew_s} s away from now (window {window_s} s)")]
    Stale {
        /// The header's timestamp (Unix seconds).
        timestamp: i64,
        /// How far it is from now, in seconds.
        skew_s: i64,
        /// The window allowed.
        window_s: i64,
    },
    /// An event type name that does not exist.
    #[error("unknown event type {0:?}")]
    UnknownEvent(String),
}
