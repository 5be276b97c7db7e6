//! Weekly windows, midnight crossing, holidays and special days.

use chrono::{DateTime, TimeZone, Utc, Weekday};
use ura_ivr::{Schedule, Tz, Window};

/// Sao Paulo has had no DST since 2019: local = UTC-3 throughout 2024.
fn sp(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::America::Sao_Paulo
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn w(text: &str) -> Window {
    text.parse().unwrap()
}

fn office() -> Schedule {
    let mut s = Schedule::weekly(chrono_tz::America::Sao_Paulo);
    for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu] {
        s = s
            .with_window(day, w("08:00-12:00"))
            .with_window(day, w("13:00-18:00"));
    }
    s.with_window(Weekday::Fri, w("08:00-12:00"))
        .with_window(Weekday::Fri, w("22:00-02:00"))
}

#[test]
fn two_windows_a_day_with_lunch_break() {
    let s = office();
    // 2024-06-10 is a Monday.
    assert!(!s.is_open(sp(2024, 6, 10, 7, 59)));
    assert!(s.is_open(sp(2024, 6, 10, 8, 0)));
    assert!(s.is_open(sp(2024, 6, 10, 11, 59)));
    assert!(!s.is_open(sp(2024, 6, 10, 12, 0)));
    assert!(!s.is_open(sp(2024, 6, 10, 12, 30)));
    assert!(s.is_open(sp(2024, 6, 10, 13, 0)));
    assert!(!s.is_open(sp(2024, 6, 10, 18, 0)));
    assert_eq!(
        s.next_open(sp(2024, 6, 10, 12, 30)),
        Some(sp(2024, 6, 10, 13, 0))
    );
    assert_eq!(
        s.next_close(sp(2024, 6, 10, 9, 0)),
        Some(sp(2024, 6, 10, 12, 0))
    );
    assert_eq!(
        s.next_open(sp(2024, 6, 10, 18, 0)),
        Some(sp(2024, 6, 11, 8, 0))
    );
}

#[test]
fn open_and_closed_now_return_now() {
    let s = office();
    let open = sp(2024, 6, 10, 9, 0);
    let closed = sp(2024, 6, 10, 20, 0);
    assert_eq!(s.next_open(open), Some(open));
    assert_eq!(s.next_close(closed), Some(closed));
}

#[test]
fn window_crossing_midnight_belongs_to_its_start_day() {
    let s = office();
    // Friday 2024-06-14 22:00 to Saturday 02:00.
    assert!(!s.is_open(sp(2024, 6, 14, 21, 59)));
    assert!(s.is_open(sp(2024, 6, 14, 22, 0)));
    assert!(s.is_open(sp(2024, 6, 15, 1, 59)));
    assert!(!s.is_open(sp(2024, 6, 15, 2, 0)));
    assert_eq!(
        s.next_close(sp(2024, 6, 14, 23, 0)),
        Some(sp(2024, 6, 15, 2, 0))
    );
    // Saturday after 02:00: next is Monday 08:00.
    assert_eq!(
        s.next_open(sp(2024, 6, 15, 3, 0)),
        Some(sp(2024, 6, 17, 8, 0))
    );
}

#[test]
fn saturday_holiday_does_not_cut_friday_night_short() {
    let s = office().with_holiday("2024-06-15".parse().unwrap());
    assert!(s.is_open(sp(2024, 6, 15, 1, 0)));
    assert_eq!(
        s.next_close(sp(2024, 6, 14, 23, 0)),
        Some(sp(2024, 6, 15, 2, 0))
    );
}

#[test]
fn friday_holiday_removes_the_whole_crossing_window() {
    let s = office().with_holiday("2024-06-14".parse().unwrap());
    assert!(!s.is_open(sp(2024, 6, 14, 10, 0)));
    assert!(!s.is_open(sp(2024, 6, 14, 23, 0)));
    assert!(!s.is_open(sp(2024, 6, 15, 1, 0)));
    assert_eq!(
        s.next_open(sp(2024, 6, 13, 19, 0)),
        Some(sp(2024, 6, 17, 8, 0))
    );
}

#[test]
fn yearly_holiday_closes_every_year() {
    let s = office().with_holiday("*-12-25".parse().unwrap());
    // 2024-12-25 is a Wednesday, 2025-12-25 a Thursday.
    assert!(!s.is_open(sp(2024, 12, 25, 10, 0)));
    assert!(!s.is_open(sp(2025, 12, 25, 10, 0)));
    assert!(s.is_open(sp(2024, 12, 24, 10, 0)));
    assert_eq!(
        s.next_open(sp(2024, 12, 25, 10, 0)),
        Some(sp(2024, 12, 26, 8, 0))
    );
}

#[test]
fn special_day_replaces_the_weekday_hours() {
    let s = office().with_special("2024-12-24".parse().unwrap(), vec![w("09:00-11:00")]);
    // Tuesday 2024-12-24.
    assert!(!s.is_open(sp(2024, 12, 24, 8, 30)));
    assert!(s.is_open(sp(2024, 12, 24, 9, 0)));
    assert!(!s.is_open(sp(2024, 12, 24, 14, 0)));
    // No holiday here: Wednesday the 25th opens as usual.
    assert_eq!(
        s.next_open(sp(2024, 12, 24, 11, 0)),
        Some(sp(2024, 12, 25, 8, 0))
    );
    // The following Tuesday keeps the weekly hours.
    assert!(s.is_open(sp(2024, 12, 31, 14, 0)));
}

#[test]
fn adjacent_windows_close_only_at_the_end() {
    let s = Schedule::weekly(Tz::UTC)
        .with_window(Weekday::Mon, w("08:00-12:00"))
        .with_window(Weekday::Mon, w("12:00-18:00"));
    let at = Utc.with_ymd_and_hms(2024, 6, 10, 9, 0, 0).unwrap();
    assert_eq!(
        s.next_close(at),
        Some(Utc.with_ymd_and_hms(2024, 6, 10, 18, 0, 0).unwrap())
    );
}

#[test]
fn next_open_looks_almost_a_year_ahead() {
    let s = Schedule::weekly(chrono_tz::America::Sao_Paulo)
        .with_special("*-12-25".parse().unwrap(), vec![w("10:00-11:00")]);
    assert_eq!(
        s.next_open(sp(2024, 1, 1, 0, 0)),
        Some(sp(2024, 12, 25, 10, 0))
    );
    assert_eq!(
        s.next_open(sp(2024, 12, 25, 11, 0)),
        Some(sp(2025, 12, 25, 10, 0))
    );
}

#[test]
fn never_opening_gives_none() {
    let s = Schedule::weekly(Tz::UTC);
    assert_eq!(s.next_open(sp(2024, 1, 1, 0, 0)), None);
    let only_in_two_years = Schedule::weekly(Tz::UTC)
        .with_special("2026-06-01".parse().unwrap(), vec![w("10:00-11:00")]);
    assert_eq!(only_in_two_years.next_open(sp(2024, 1, 1, 0, 0)), None);
}
