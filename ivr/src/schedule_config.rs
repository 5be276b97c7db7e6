//! The TOML/serde form of a [`Schedule`] and its validation.
//!
//! ```toml
//! timezone = "America/Sao_Paulo"
//! always_open = false
//! holidays = ["2024-12-25", "*-01-01"]
//! special = [{ date = "2024-12-24", hours = ["08:00-12:00"] }]
//! [weekly]
//! mon = ["08:00-12:00", "13:00-18:00"]
//! fri = ["22:00-02:00"]
//! ```

use chrono::Weekday;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use crate::date_rule::DateRule;
use crate::error::IvrError;
use crate::schedule::Schedule;
use crate::window::Window;

/// A schedule as written in configuration; turn it into a [`Schedule`] with
/// [`ScheduleConfig::build`] (or deserialize a `Schedule` directly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// IANA zone name, e.g. `America/Sao_Paulo`.
    pub timezone: String,
    /// 24x7: when true, everything else is ignored.
    #[serde(default)]
    pub always_open: bool,
    /// Windows per weekday.
    #[serde(default)]
    pub weekly: WeeklyConfig,
    /// Closed all day: `YYYY-MM-DD` or `*-MM-DD` (every year).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Days with their own hours.
    #[serde(default)]
    pub special: Vec<SpecialDayConfig>,
}

/// Windows (`HH:MM-HH:MM`) for each weekday; a missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyConfig {
    /// Monday.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday.
    #[serde(default)]
    pub sun: Vec<String>,
}

/// A special day as written in configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialDayConfig {
    /// `YYYY-MM-DD` or `*-MM-DD`.
    pub date: String,
    /// Its windows; empty means closed that day.
    #[serde(default)]
    pub hours: Vec<String>,
}

fn parse_window(field: String, text: &str) -> Result<Window, IvrError> {
    text.parse().map_err(|reason| IvrError::BadTime {
        field,
        value: text.to_owned(),
        reason,
    })
}

fn parse_date(field: String, text: &str) -> Result<DateRule, IvrError> {
    text.parse().map_err(|reason| IvrError::BadDate {
        field,
        value: text.to_owned(),
        reason,
    })
}

impl ScheduleConfig {
    /// Validates and builds the schedule; errors name the field
    /// (`timezone`, `weekly.mon[1]`, `holidays[0]`, `special[2].hours[0]`).
    pub fn build(&self) -> Result<Schedule, IvrError> {
        let tz: Tz = self.timezone.parse().map_err(|_| IvrError::BadZone {
            field: "timezone".to_owned(),
            value: self.timezone.clone(),
        })?;
        let week = &self.weekly;
        let days = [
            ("mon", Weekday::Mon, &week.mon),
            ("tue", Weekday::Tue, &week.tue),
            ("wed", Weekday::Wed, &week.wed),
            ("thu", Weekday::Thu, &week.thu),
            ("fri", Weekday::Fri, &week.fri),
            ("sat", Weekday::Sat, &week.sat),
            ("sun", Weekday::Sun, &week.sun),
        ];
        // Validate everything even for always_open, so mistakes surface.
        let mut schedule = Schedule::weekly(tz);
        for (name, day, windows) in days {
            for (i, text) in windows.iter().enumerate() {
                let window = parse_window(format!("weekly.{name}[{i}]"), text)?;
                schedule = schedule.with_window(day, window);
            }
        }
        for (i, text) in self.holidays.iter().enumerate() {
            schedule = schedule.with_holiday(parse_date(format!("holidays[{i}]"), text)?);
        }
        for (i, day) in self.special.iter().enumerate() {
            let date = parse_date(format!("special[{i}].date"), &day.date)?;
            let windows = day
                .hours
                .iter()
                .enumerate()
                .map(|(j, text)| parse_window(format!("special[{i}].hours[{j}]"), text))
                .collect::<Result<Vec<_>, _>>()?;
            schedule = schedule.with_special(date, windows);
        }
        Ok(if self.always_open {
            Schedule::always_open(tz)
        } else {
            schedule
        })
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ScheduleConfig::deserialize(deserializer)?
            .build()
            .map_err(serde::de::Error::custom)
    }
}
