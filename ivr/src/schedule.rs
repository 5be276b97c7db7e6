//! Business hours: always open, or weekly windows with holidays and special
//! days, evaluated on the wall clock of the schedule's time zone.
//!
//! # How wall-clock rules meet DST
//!
//! A schedule is a statement about the *local wall clock*: "open while the
//! clock on the office wall reads between 08:00 and 12:00". An instant is
//! open when its local date and time fall in a window, so:
//!
//! - **Skipped hour** (clocks jump forward): a window that starts inside the
//!   gap opens at the first valid instant after the gap (New York,
//!   2024-03-10: a 02:30 window opens at 03:00 EDT). A window lying wholly
//!   inside the gap does not open that day.
//! - **Repeated hour** (clocks fall back): a window `01:00-01:30` is open in
//!   *both* occurrences of 01:00-01:30, and closed during the first
//!   01:30-02:00 in between, because that is what the wall clock reads.
//!
//! # Which windows apply to a date
//!
//! A window crossing midnight (`fri = ["22:00-02:00"]`) belongs to the day
//! it starts on: a holiday on Saturday does not cut it short, and a holiday
//! on Friday removes all of it, including the Saturday 00:00-02:00 part.
//! For a local date the first of these that matches decides its windows:
//! a fixed-date holiday (closed), a fixed-date special day, a yearly holiday,
//! a yearly special day, and last the weekday's windows. So a one-off
//! special day beats a yearly holiday on the same date, and on a tie of
//! specificity the holiday (closed) wins.

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

use crate::date_rule::DateRule;
use crate::transitions::offset_changes;
use crate::window::{Window, DAY_SECS};

/// How far ahead [`Schedule::next_open`] and [`Schedule::next_close`] look.
pub const HORIZON_DAYS: u64 = 400;

/// First, cheap look-ahead before the full horizon.
const SHORT_HORIZON_DAYS: u64 = 8;

/// Largest UTC offset in the database is +14:00; one more hour of margin.
const MAX_OFFSET_HOURS: i64 = 15;

/// A day with its own hours instead of the weekday's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    /// When it applies.
    pub date: DateRule,
    /// Its windows (may be empty: closed).
    pub windows: Vec<Window>,
}

/// Opening hours of a number or a service, in one time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    tz: Tz,
    always_open: bool,
    /// Indexed by `Weekday::num_days_from_monday`.
    week: [Vec<Window>; 7],
    holidays: Vec<DateRule>,
    special: Vec<SpecialDay>,
}

impl Schedule {
    /// Open at every instant (24x7); holidays and windows are ignored.
    pub fn always_open(tz: Tz) -> Self {
        Self {
            always_open: true,
            ..Self::weekly(tz)
        }
    }

    /// A weekly schedule with no windows yet (always closed until some are
    /// added with [`Schedule::with_window`]).
    pub fn weekly(tz: Tz) -> Self {
        Self {
            tz,
            always_open: false,
            week: Default::default(),
            holidays: Vec::new(),
            special: Vec::new(),
        }
    }

    /// Adds an opening window to a weekday.
    pub fn with_window(mut self, day: Weekday, window: Window) -> Self {
        self.week[day.num_days_from_monday() as usize].push(window);
        self
    }

    /// Adds a holiday: closed for that whole local date.
    pub fn with_holiday(mut self, date: DateRule) -> Self {
        self.holidays.push(date);
        self
    }

    /// Adds a special day with its own windows.
    pub fn with_special(mut self, date: DateRule, windows: Vec<Window>) -> Self {
        self.special.push(SpecialDay { date, windows });
        self
    }

    /// The schedule's time zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether this is a 24x7 schedule.
    pub fn is_always_open(&self) -> bool {
        self.always_open
    }

    /// The windows that start on a local date, after holidays and special
    /// days are applied (see the module docs for precedence). Empty for an
    /// always-open schedule, which has no windows.
    pub fn windows_on(&self, date: NaiveDate) -> &[Window] {
        for fixed in [true, false] {
            if self
                .holidays
                .iter()
                .any(|h| h.is_fixed() == fixed && h.matches(date))
            {
                return &[];
            }
            if let Some(day) = self
                .special
                .iter()
                .find(|s| s.date.is_fixed() == fixed && s.date.matches(date))
            {
                return &day.windows;
            }
        }
        &self.week[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether the number is open at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        if self.always_open {
            return true;
        }
        let local = at.with_timezone(&self.tz).naive_local();
        let date = local.date();
        let secs = local.time().num_seconds_from_midnight();
        self.windows_on(date).iter().any(|w| w.contains(secs))
            || date.pred_opt().is_some_and(|prev| {
                self.windows_on(prev)
                    .iter()
                    .any(|w| w.contains(secs + DAY_SECS))
            })
    }

    /// The first instant at or after `at` when it is open (`at` itself if
    /// open now); `None` if it does not open within [`HORIZON_DAYS`].
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        self.find(at, true)
    }

    /// The first instant at or after `at` when it is closed (`at` itself if
    /// closed now); `None` for always open or no closing within
    /// [`HORIZON_DAYS`].
    pub fn next_close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.always_open {
            return None;
        }
        if !self.is_open(at) {
            return Some(at);
        }
        self.find(at, false)
    }

    fn find(&self, at: DateTime<Utc>, want_open: bool) -> Option<DateTime<Utc>> {
        self.find_within(at, want_open, SHORT_HORIZON_DAYS)
            .or_else(|| self.find_within(at, want_open, HORIZON_DAYS))
    }

    /// The state only changes where the wall clock crosses a window edge or
    /// where the offset changes, so it is enough to test those instants.
    fn find_within(&self, at: DateTime<Utc>, want_open: bool, days: u64) -> Option<DateTime<Utc>> {
        let today = at.with_timezone(&self.tz).date_naive();
        let first = today.pred_opt()?;
        let last = today.checked_add_days(Days::new(days))?;
        // Edges of windows on later days are all at or after this instant.
        let bound = last
            .succ_opt()?
            .and_time(NaiveTime::MIN)
            .checked_sub_signed(Duration::hours(MAX_OFFSET_HOURS))?
            .and_utc();
        let mut candidates = offset_changes(self.tz, at, bound);
        let mut day = first;
        while day <= last {
            let midnight = day.and_time(NaiveTime::MIN);
            for w in self.windows_on(day) {
                for edge in [w.start_secs(), w.end_secs()] {
                    let Some(wall) =
                        midnight.checked_add_signed(Duration::seconds(i64::from(edge)))
                    else {
                        continue;
                    };
                    match self.tz.from_local_datetime(&wall) {
                        LocalResult::Single(t) => candidates.push(t.with_timezone(&Utc)),
                        LocalResult::Ambiguous(a, b) => {
                            candidates.push(a.with_timezone(&Utc));
                            candidates.push(b.with_timezone(&Utc));
                        }
                        // In a gap: the offset change itself is a candidate.
                        LocalResult::None => {}
                    }
                }
            }
            day = day.succ_opt()?;
        }
        candidates.retain(|c| *c > at && *c < bound);
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .find(|c| self.is_open(*c) == want_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn w(text: &str) -> Window {
        text.parse().unwrap()
    }

    #[test]
    fn precedence_fixed_special_beats_yearly_holiday() {
        let date = NaiveDate::from_ymd_opt(2024, 12, 25).unwrap();
        let s = Schedule::weekly(Tz::UTC)
            .with_window(Weekday::Wed, w("08:00-18:00"))
            .with_holiday("*-12-25".parse().unwrap())
            .with_special("2024-12-25".parse().unwrap(), vec![w("09:00-10:00")]);
        assert_eq!(s.windows_on(date), &[w("09:00-10:00")]);
        let s = s.with_holiday("2024-12-25".parse().unwrap());
        assert!(s.windows_on(date).is_empty());
    }

    #[test]
    fn always_open_never_closes() {
        let s = Schedule::always_open(Tz::UTC);
        let at = utc(2024, 5, 5, 3, 0);
        assert!(s.is_open(at));
        assert_eq!(s.next_open(at), Some(at));
        assert_eq!(s.next_close(at), None);
    }

    #[test]
    fn empty_weekly_never_opens() {
        let s = Schedule::weekly(Tz::UTC);
        assert_eq!(s.next_open(utc(2024, 5, 5, 3, 0)), None);
    }

    #[test]
    fn full_days_every_day_never_close() {
        let mut s = Schedule::weekly(Tz::UTC);
        for d in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ] {
            s = s.with_window(d, w("00:00-24:00"));
        }
        assert_eq!(s.next_close(utc(2024, 5, 5, 3, 0)), None);
    }
}
