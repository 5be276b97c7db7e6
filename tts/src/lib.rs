//! Text-to-speech for ura.
//!
//! Admins type text that ura speaks with a chosen [`Voice`]; the resulting
//! [`Audio`] becomes a prompt once brought to 8 kHz ([`Audio::to_prompt_rate`])
//! and cut into G.711 frames by the caller.
//!
//! - [`Synthesizer`]: the object-safe, blocking engine trait (run it on
//!   `spawn_blocking`).
//! - [`EspeakNg`]: the built-in engine, `espeak-ng` run as a subprocess (never linked).
//! - [`HttpEngine`]: cloud TTS services over HTTP, described by [`HttpEngineConfig`].
//! - [`CachedSynthesizer`]: a disk [`Cache`] in front of any engine.
//! - [`saying`]: the words for numbers, queue positions and waits (pt-BR, en).
//!
//! # What is synthesized per call and what is joined from clips
//!
//! The engine currently joins built-in recorded clips for the IVR's
//! next-opening announcement and for menu digits: that set is closed and known
//! in advance. Per-call sayings — queue position ([`saying::say_ordinal`]) and
//! expected wait ([`saying::say_wait`]) — are planned to be spoken by
//! synthesizing the text from [`saying`] through [`CachedSynthesizer`], because
//! their set is open-ended; the cache makes every repeat (say "você é o terceiro
//! da fila") cost a file read instead of a synthesis.

#![warn(missing_docs)]

pub mod audio;
pub mod cache;
pub mod error;
pub mod espeak;
pub mod http;
pub mod rate;
pub mod saying;
pub mod synth;
pub mod voice;
pub mod wav;

pub use audio::{Audio, PROMPT_SAMPLE_RATE};
pub use cache::{Cache, CacheKey, CachedSynthesizer};
pub use error::TtsError;
pub use espeak::EspeakNg;
pub use http::{HttpEngine, HttpEngineConfig, HttpMethod, ResponseFormat};
pub use rate::Rate;
pub use saying::{say_number, say_ordinal, say_wait, SayLang};
pub use synth::{Synthesizer, MAX_TEXT_CHARS};
pub use voice::{Language, Voice};
pub use wav::{encode_wav, parse_wav};
