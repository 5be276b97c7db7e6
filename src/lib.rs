//! ura: a contact-center voice engine.
//!
//! The root package holds the CLI, the configuration and the engine that
//! wires SIP ([`ura_sip`]), media ([`ura_media`]) and prompts
//! ([`ura_prompts`]) into calls.

pub mod admin;
pub mod agent_cli;
pub mod calls_cli;
pub mod config;
pub mod config_api;
pub mod config_cli;
pub mod demo;
pub mod engine;
pub mod error;
pub mod http;
pub mod metrics;
#[cfg(feature = "local-audio")]
pub mod mic;
pub mod omni;
pub mod prompt_admin;
pub mod queues;
pub mod recorder;
pub mod routing;
pub mod web;
