//! The error type of the SIP crate.

/// Everything that can go wrong in `ura-sip`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SipError {
    /// The bytes are not a SIP message we can read; the text is the reason.
    #[error("malformed SIP message: {0}")]
    Malformed(&'static str),
    /// The call (dialog) is unknown or already ended.
    #[error("unknown call")]
    UnknownCall,
    /// The call is not in a state that allows this action.
    #[error("call is in the wrong state for {0}")]
    WrongState(&'static str),
    /// No address to send to could be worked out.
    #[error("no route to the peer: {0}")]
    NoRoute(String),
    /// An `Authorization` header we cannot read; the text is the reason.
    #[error("bad credentials: {0}")]
    BadCredentials(&'static str),
}
