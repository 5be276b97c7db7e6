//! Business hours of a text channel, for conversations kept out of hours:
//! the channel's schedule and the services' own schedules, evaluated on
//! the wall-clock time given as input ([`crate::Now::unix_ms`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ura_ivr::{Schedule, ServiceId};

/// Kept (out-of-hours) conversations one channel holds at most; past it a
/// conversation that arrives out of hours is told the hours and ends, as
/// a call would be. The engine counts and decides (it passes no
/// [`crate::Start::hours`] when the channel is full).
pub const MAX_KEPT: usize = 1_000;

/// When a channel and its services are open.
#[derive(Debug, Clone)]
pub struct OpeningHours {
    /// The channel's hours (always open when it names no schedule).
    pub channel: Schedule,
    /// Services with hours of their own (the others follow the channel).
    pub services: BTreeMap<ServiceId, Schedule>,
}

/// Unix milliseconds as a UTC instant (the epoch for nonsense).
pub(crate) fn utc(unix_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(unix_ms).unwrap_or_default()
}

impl OpeningHours {
    /// Whether a conversation for `service` (or for the channel, before a
    /// service is chosen) is served at `at`: the channel is open and the
    /// service's own schedule, if it has one, too.
    pub fn is_open(&self, service: Option<&ServiceId>, at: DateTime<Utc>) -> bool {
        self.channel.is_open(at)
            && service
                .and_then(|s| self.services.get(s))
                .is_none_or(|s| s.is_open(at))
    }

    /// The zone the next opening is said in: the service's own schedule's
    /// when it has one, else the channel's.
    pub fn timezone(&self, service: Option<&ServiceId>) -> ura_ivr::Tz {
        service
            .and_then(|s| self.services.get(s))
            .unwrap_or(&self.channel)
            .timezone()
    }

    /// The first instant at or after `at` when [`OpeningHours::is_open`]
    /// holds; `None` when that is not within the schedules' horizon
    /// ([`ura_ivr::HORIZON_DAYS`]).
    pub fn next_open(
        &self,
        service: Option<&ServiceId>,
        at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let own = service.and_then(|s| self.services.get(s));
        let mut t = at;
        // Each round moves to where one of the two opens; two schedules
        // that never overlap give up after a bounded number of rounds.
        for _ in 0..64 {
            t = self.channel.next_open(t)?;
            match own {
                None => return Some(t),
                Some(s) if s.is_open(t) => return Some(t),
                Some(s) => {
                    t = s.next_open(t)?;
                    if self.channel.is_open(t) {
                        return Some(t);
                    }
                }
            }
        }
        None
    }
}
