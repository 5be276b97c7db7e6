//! Opening-hour windows such as `08:00-12:00` or `22:00-02:00`.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveTime;

pub(crate) const DAY_SECS: u32 = 86_400;

/// A span of wall-clock time that starts on some day.
///
/// If the end is not after the start (`22:00-02:00`) the window crosses
/// midnight and ends on the next day; it still *belongs to* the day it starts
/// on. `00:00-24:00` is a whole day. A window whose start equals its end is
/// rejected (it would be ambiguous between empty and 24 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Seconds after the start day's midnight, `0..86400`.
    start: u32,
    /// Seconds after the start day's midnight, `start+1..=start+86400`.
    end: u32,
}

impl Window {
    /// A window from `start` to `end` (on the next day if `end <= start`).
    /// Returns `None` when `start == end`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Option<Self> {
        Self::from_secs(secs(start), secs(end))
    }

    fn from_secs(start: u32, end: u32) -> Option<Self> {
        if start >= DAY_SECS || end > DAY_SECS || (start == end) {
            return None;
        }
        let end = if end > start { end } else { end + DAY_SECS };
        Some(Self { start, end })
    }

    /// Whether the window ends on the day after it starts.
    pub fn crosses_midnight(&self) -> bool {
        self.end > DAY_SECS
    }

    pub(crate) fn start_secs(&self) -> u32 {
        self.start
    }

    pub(crate) fn end_secs(&self) -> u32 {
        self.end
    }

    /// Whether a wall time `secs` after the start day's midnight (may be
    /// `>= 86400` for the next day) is inside `[start, end)`.
    pub(crate) fn contains(&self, secs: u32) -> bool {
        self.start <= secs && secs < self.end
    }
}

fn secs(t: NaiveTime) -> u32 {
    use chrono::Timelike;
    t.num_seconds_from_midnight()
}

/// Parses `H:MM` or `HH:MM`; `24:00` only when `allow_24` (window ends).
fn parse_clock(text: &str, allow_24: bool) -> Result<u32, String> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not HH:MM"))?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || !digits(m) {
        return Err(format!("{text:?} is not HH:MM"));
    }
    let h: u32 = h.parse().map_err(|_| format!("{text:?} is not HH:MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("{text:?} is not HH:MM"))?;
    if m > 59 {
        return Err(format!("minute {m} out of range"));
    }
    match h {
        0..=23 => Ok(h * 3600 + m * 60),
        24 if allow_24 && m == 0 => Ok(DAY_SECS),
        _ => Err(format!("hour {h} out of range")),
    }
}

impl FromStr for Window {
    type Err = String;

    /// Parses `HH:MM-HH:MM`; the end may be `24:00`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| "expected HH:MM-HH:MM".to_owned())?;
        let start = parse_clock(a.trim(), false)?;
        let end = parse_clock(b.trim(), true)?;
        Self::from_secs(start, end).ok_or_else(|| "start and end are equal".to_owned())
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.end % DAY_SECS;
        let end = if end == 0 && self.end == DAY_SECS {
            DAY_SECS
        } else {
            end
        };
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 3600,
            self.start / 60 % 60,
            end / 3600,
            end / 60 % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_crossing_and_full_day_windows() {
        let w: Window = "08:00-12:00".parse().unwrap();
        assert_eq!((w.start_secs(), w.end_secs()), (8 * 3600, 12 * 3600));
        assert!(!w.crosses_midnight());
        let w: Window = "22:00-02:00".parse().unwrap();
        assert_eq!(w.end_secs(), DAY_SECS + 2 * 3600);
        assert!(w.crosses_midnight());
        assert_eq!(w.to_string(), "22:00-02:00");
        let w: Window = "00:00-24:00".parse().unwrap();
        assert_eq!(w.end_secs(), DAY_SECS);
        assert_eq!(w.to_string(), "00:00-24:00");
        let w: Window = "8:30-9:15".parse().unwrap();
        assert_eq!(w.to_string(), "08:30-09:15");
    }

    #[test]
    fn rejects_bad_windows() {
        for bad in [
            "",
            "08:00",
            "8-12",
            "25:00-26:00",
            "08:60-09:00",
            "24:00-02:00",
            "08:00-24:30",
            "08:00-08:00",
            "ab:cd-ef:gh",
            "+8:00-9:00",
            "08:000-09:00",
            "08:00-12:00-13:00",
        ] {
            assert!(bad.parse::<Window>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn contains_is_half_open() {
        let w: Window = "22:00-02:00".parse().unwrap();
        assert!(w.contains(22 * 3600));
        assert!(w.contains(DAY_SECS + 3600));
        assert!(!w.contains(DAY_SECS + 2 * 3600));
        assert!(!w.contains(21 * 3600 + 3599));
    }
}
