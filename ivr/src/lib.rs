//! IVR ("URA") for ura, sans-I/O: business-hours [`Schedule`]s evaluated in
//! the number's time zone, and the per-call menu [`Flow`].
//!
//! The engine evaluates schedules with the wall clock when a call is
//! answered ([`Decision::evaluate`]), builds a [`Flow`] from a validated
//! [`Ivr`], and then only moves events in and [`Output`]s out; nothing here
//! reads a clock, sleeps or does I/O.

#![warn(missing_docs)]

mod config;
mod date_rule;
mod decision;
mod describe;
mod error;
mod flow;
mod ids;
mod output;
mod schedule;
mod schedule_config;
mod transitions;
mod window;

pub use config::{
    is_dtmf, Fallback, Ivr, IvrConfig, Keys, MenuConfig, MenuItem, Target, Timeouts,
    MAX_OPTION_DIGITS,
};
pub use date_rule::DateRule;
pub use decision::{Decision, Hours};
pub use describe::{describe_next_opening, Lang};
pub use error::IvrError;
pub use flow::Flow;
pub use ids::{MenuId, PlayToken, PromptName, ServiceId};
pub use output::{
    BuiltinPrompt, Event, FallbackReason, HangupCause, MenuEntry, Output, PromptRef, QueueResult,
};
pub use schedule::{Schedule, SpecialDay, HORIZON_DAYS};
pub use schedule_config::{ScheduleConfig, SpecialDayConfig, WeeklyConfig};
pub use window::Window;

/// Re-exported so callers name zones with the same version.
pub use chrono_tz::Tz;
