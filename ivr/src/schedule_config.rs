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

const DAY: u32 = 86_400;
const WEEK: u32 = 7 * DAY;

/// Whether two spans of the week (seconds from Monday 00:00; Sunday's
/// overnight window runs past the week's end into Monday) share a moment.
fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let meet = |a: (u32, u32), b: (u32, u32)| a.0 < b.1 && b.0 < a.1;
    meet(a, b) || meet((a.0 + WEEK, a.1 + WEEK), b) || meet(a, (b.0 + WEEK, b.1 + WEEK))
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
        // (seconds into the week from Monday 00:00, end, text) of each window.
        let mut week_spans: Vec<(u32, u32, &String)> = Vec::new();
        for (d, (name, day, windows)) in days.into_iter().enumerate() {
            for (i, text) in windows.iter().enumerate() {
                let field = format!("weekly.{name}[{i}]");
                let window = parse_window(field.clone(), text)?;
                let base = d as u32 * DAY;
                let span = (base + window.start_secs(), base + window.end_secs());
                if let Some(other) = week_spans.iter().find(|o| overlaps(span, (o.0, o.1))) {
                    return Err(IvrError::Overlap {
                        field,
                        value: text.clone(),
                        other: other.2.clone(),
                    });
                }
                week_spans.push((span.0, span.1, text));
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
            for (j, w) in windows.iter().enumerate() {
                if let Some(k) = (0..j).find(|&k| {
                    let o = &windows[k];
                    overlaps(
                        (w.start_secs(), w.end_secs()),
                        (o.start_secs(), o.end_secs()),
                    )
                }) {
                    return Err(IvrError::Overlap {
                        field: format!("special[{i}].hours[{j}]"),
                        value: day.hours[j].clone(),
                        other: day.hours[k].clone(),
                    });
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn week(mon: &[&str], sun: &[&str]) -> ScheduleConfig {
        ScheduleConfig {
            timezone: "UTC".into(),
            weekly: WeeklyConfig {
                mon: mon.iter().map(|s| s.to_string()).collect(),
                sun: sun.iter().map(|s| s.to_string()).collect(),
                ..WeeklyConfig::default()
            },
            ..ScheduleConfig::default()
        }
    }

    #[test]
    fn overlapping_windows_are_refused_with_both_named() {
        let err = week(&["09:00-12:00", "11:00-13:00"], &[])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "weekly.mon[1]: time window \"11:00-13:00\" overlaps \"09:00-12:00\""
        );
        // Sunday night into Monday morning.
        let err = week(&["05:00-07:00"], &["22:00-06:00"])
            .build()
            .unwrap_err();
        assert!(err.to_string().starts_with("weekly.sun[0]"), "{err}");
        // Touching is not overlapping; overnight alone is fine.
        week(
            &["09:00-12:00", "12:00-13:00", "22:00-02:00"],
            &["22:00-05:00"],
        )
        .build()
        .unwrap();
        let special = ScheduleConfig {
            timezone: "UTC".into(),
            special: vec![SpecialDayConfig {
                date: "2026-12-24".into(),
                hours: vec!["08:00-12:00".into(), "10:00-11:00".into()],
            }],
            ..ScheduleConfig::default()
        };
        let err = special.build().unwrap_err().to_string();
        assert!(err.starts_with("special[0].hours[1]"), "{err}");
    }
}
