//! The schedule facts a [`crate::Flow`] is built with, evaluated once by the
//! engine at answer time with the wall clock.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::describe::{describe_next_opening, Lang};
use crate::ids::ServiceId;
use crate::schedule::Schedule;

/// Whether the number is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hours {
    /// Within business hours.
    Open,
    /// Outside; `next_opening` holds the words to say, if known.
    Closed {
        /// E.g. "amanhã às 8 horas".
        next_opening: Option<String>,
    },
}

/// Everything time-dependent the flow needs, precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The number's state.
    pub hours: Hours,
    /// Services whose own schedule is closed now; the rest are open.
    pub closed_services: BTreeSet<ServiceId>,
}

impl Decision {
    /// Open, every service open.
    pub fn open() -> Self {
        Self {
            hours: Hours::Open,
            closed_services: BTreeSet::new(),
        }
    }

    /// Closed, with the words for the next opening.
    pub fn closed(next_opening: Option<String>) -> Self {
        Self {
            hours: Hours::Closed { next_opening },
            closed_services: BTreeSet::new(),
        }
    }

    /// Marks a service as out of its own hours.
    pub fn with_closed_service(mut self, service: impl Into<ServiceId>) -> Self {
        self.closed_services.insert(service.into());
        self
    }

    /// Evaluates the number's schedule and the services' own schedules at
    /// `at` (services without a schedule follow the number).
    pub fn evaluate(
        number: &Schedule,
        services: &BTreeMap<ServiceId, Schedule>,
        at: DateTime<Utc>,
        lang: Lang,
    ) -> Self {
        let hours = if number.is_open(at) {
            Hours::Open
        } else {
            let tz = number.timezone();
            Hours::Closed {
                next_opening: number.next_open(at).map(|next| {
                    describe_next_opening(next.with_timezone(&tz), at.with_timezone(&tz), lang)
                }),
            }
        };
        let closed_services = services
            .iter()
            .filter(|(_, schedule)| !schedule.is_open(at))
            .map(|(id, _)| id.clone())
            .collect();
        Self {
            hours,
            closed_services,
        }
    }

    /// Whether the number is open.
    pub fn is_open(&self) -> bool {
        self.hours == Hours::Open
    }
}
