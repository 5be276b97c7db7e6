//! Queue router for ura, sans-I/O: decides which agent gets which task.
//!
//! (Full description below.)

#![warn(missing_docs)]

mod agent;
mod config;
mod error;
mod ids;
mod output;
mod queue;
mod router;
mod stats;
mod strategy;
mod task;
mod timer;

pub use agent::{AgentCounters, AgentState, MISSED_CALLS};
pub use config::{AgentConfig, Capacity, QueueConfig, Strategy, MAX_LEVEL};
pub use error::RouterError;
pub use ids::{AgentId, Channel, OfferId, QueueId, TaskId, CHANNELS};
pub use output::{CancelReason, LeaveReason, OfferFailure, Output};
pub use router::Router;
pub use stats::{QueueCounters, QueueStatus, WaitingTask};
pub use task::TaskSpec;
