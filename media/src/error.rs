//! The single error type of the crate.

use std::io;

/// Everything that can go wrong in `ura-media`.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A received RTP or RTCP packet could not be parsed.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// An output buffer was too small for what had to be written.
    #[error("buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// No free even/odd port pair was left in the configured RTP range.
    #[error("no free RTP port pair in {first}-{last}")]
    NoFreePorts {
        /// First port of the range.
        first: u16,
        /// Last port of the range (inclusive).
        last: u16,
    },
    /// The configuration is unusable.
    #[error("invalid media configuration: {0}")]
    InvalidConfig(&'static str),
    /// Two streams cannot be bridged (same stream, or different workers).
    #[error("cannot bridge: {0}")]
    Bridge(&'static str),
    /// The media workers have been shut down.
    #[error("media engine is shut down")]
    ShutDown,
    /// An operating-system call failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}
