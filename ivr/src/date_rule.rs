//! Dates of holidays and special days: one fixed date or every year.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// When a holiday or special day applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// One calendar date, written `2024-12-25`.
    Fixed(NaiveDate),
    /// The same month and day every year, written `*-12-25`. `*-02-29`
    /// matches only in leap years.
    Yearly {
        /// 1..=12.
        month: u32,
        /// 1..=31, valid for the month in some year.
        day: u32,
    },
}

impl DateRule {
    /// Whether the rule applies to `date`.
    pub fn matches(&self, date: NaiveDate) -> bool {
        match *self {
            Self::Fixed(d) => d == date,
            Self::Yearly { month, day } => date.month() == month && date.day() == day,
        }
    }

    /// Whether this is a one-off date (more specific than a yearly rule).
    pub fn is_fixed(&self) -> bool {
        matches!(self, Self::Fixed(_))
    }
}

impl FromStr for DateRule {
    type Err = String;

    /// Parses `YYYY-MM-DD` or `*-MM-DD`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("*-") {
            let (m, d) = rest
                .split_once('-')
                .ok_or_else(|| "expected *-MM-DD".to_owned())?;
            let num = |s: &str| {
                if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
                    s.parse::<u32>().ok()
                } else {
                    None
                }
            };
            let (month, day) = num(m)
                .zip(num(d))
                .ok_or_else(|| "expected *-MM-DD".to_owned())?;
            // 2000 is a leap year, so Feb 29 is accepted as a yearly rule.
            NaiveDate::from_ymd_opt(2000, month, day)
                .ok_or_else(|| format!("no such day {month:02}-{day:02}"))?;
            return Ok(Self::Yearly { month, day });
        }
        if text.len() != 10 {
            return Err("expected YYYY-MM-DD or *-MM-DD".to_owned());
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Self::Fixed)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for DateRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::Yearly { month, day } => write!(f, "*-{month:02}-{day:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn fixed_and_yearly_match() {
        let fixed: DateRule = "2024-12-25".parse().unwrap();
        assert!(fixed.matches(date(2024, 12, 25)));
        assert!(!fixed.matches(date(2025, 12, 25)));
        let yearly: DateRule = "*-12-25".parse().unwrap();
        assert!(yearly.matches(date(2024, 12, 25)));
        assert!(yearly.matches(date(2031, 12, 25)));
        assert!(!yearly.matches(date(2031, 12, 24)));
        assert_eq!(yearly.to_string(), "*-12-25");
        assert_eq!(fixed.to_string(), "2024-12-25");
    }

    #[test]
    fn leap_day_yearly_matches_only_leap_years() {
        let rule: DateRule = "*-02-29".parse().unwrap();
        assert!(rule.matches(date(2024, 2, 29)));
        assert!(!rule.matches(date(2023, 2, 28)));
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "2024-13-01",
            "2023-02-29",
            "*-02-30",
            "*-12",
            "*-1-5",
            "24-12-25",
            "2024/12/25",
            "*-ab-01",
            "2024-12-25x",
        ] {
            assert!(bad.parse::<DateRule>().is_err(), "{bad:?} accepted");
        }
    }
}
