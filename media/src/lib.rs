//! Media for ura: RTP/RTCP, G.711, DTMF detection and the media workers.
//!
//! The crate is organised by what each module holds:
//!
//! * [`g711`] – µ-law / A-law codecs;
//! * [`rtp`] and [`rtcp`] – packet formats and receive statistics;
//! * [`dtmf`] – RFC 4733 events and the in-band (Goertzel) detector;
//! * [`prompt`] – pre-encoded prompts shared by every caller;
//! * `bridge` – relaying between two streams (transcoding tables) and
//!   bridge recordings (one writer thread);
//! * [`engine`] – the [`MediaEngine`] handle and its public types, backed by
//!   the worker threads (`worker`), their streams (`stream`), port
//!   allocation (`ports`) and a few Linux calls (`sys`).

#![warn(missing_docs)]

mod bridge;
pub mod dtmf;
pub mod engine;
mod error;
pub mod g711;
mod ports;
pub mod prompt;
pub mod rtcp;
pub mod rtp;
mod stream;
mod sys;
mod worker;

pub use dtmf::{Digit, DtmfSource};
pub use engine::{
    BridgeRecorded, Direction, MediaConfig, MediaEngine, MediaEvent, PlayId, PlayMode, Reach,
    StreamId, StreamParams, StreamStats, WorkerStats,
};
pub use error::MediaError;
pub use g711::Codec;
pub use prompt::PromptFrames;
