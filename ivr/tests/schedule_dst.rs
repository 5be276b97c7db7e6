//! Schedules across DST changes, on past dates of three zones.

use chrono::{DateTime, TimeZone, Utc, Weekday};
use ura_ivr::{Schedule, Tz, Window};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn one_window(tz: Tz, day: Weekday, window: &str) -> Schedule {
    Schedule::weekly(tz).with_window(day, window.parse::<Window>().unwrap())
}

#[test]
fn sao_paulo_2018_spring_forward_at_midnight() {
    // 2018-11-04 (Sunday) 00:00 -03 became 01:00 -02, at 03:00 UTC.
    let s = one_window(chrono_tz::America::Sao_Paulo, Weekday::Sun, "00:30-12:00");
    assert!(!s.is_open(utc(2018, 11, 4, 2, 59)));
    assert!(s.is_open(utc(2018, 11, 4, 3, 0)));
    // The window starts in the skipped hour: it opens after the gap.
    assert_eq!(
        s.next_open(utc(2018, 11, 3, 20, 0)),
        Some(utc(2018, 11, 4, 3, 0))
    );
    // 12:00 -02.
    assert_eq!(
        s.next_close(utc(2018, 11, 4, 3, 0)),
        Some(utc(2018, 11, 4, 14, 0))
    );
}

#[test]
fn sao_paulo_2019_fall_back_repeats_saturday_23h() {
    // 2019-02-17 00:00 -02 became 2019-02-16 23:00 -03, at 02:00 UTC.
    let s = one_window(chrono_tz::America::Sao_Paulo, Weekday::Sat, "23:00-23:30");
    // First 23:00-23:30 (-02) is 01:00-01:30Z, the second (-03) 02:00-02:30Z.
    assert!(s.is_open(utc(2019, 2, 17, 1, 15)));
    assert!(!s.is_open(utc(2019, 2, 17, 1, 45)));
    assert!(s.is_open(utc(2019, 2, 17, 2, 15)));
    assert!(!s.is_open(utc(2019, 2, 17, 2, 45)));
    assert_eq!(
        s.next_open(utc(2019, 2, 16, 12, 0)),
        Some(utc(2019, 2, 17, 1, 0))
    );
    assert_eq!(
        s.next_open(utc(2019, 2, 17, 1, 45)),
        Some(utc(2019, 2, 17, 2, 0))
    );
    assert_eq!(
        s.next_close(utc(2019, 2, 17, 2, 0)),
        Some(utc(2019, 2, 17, 2, 30))
    );
}

#[test]
fn new_york_2024_window_starting_in_the_gap() {
    // 2024-03-10 02:00 EST became 03:00 EDT, at 07:00 UTC.
    let s = one_window(chrono_tz::America::New_York, Weekday::Sun, "02:30-04:00");
    assert!(!s.is_open(utc(2024, 3, 10, 6, 59)));
    assert_eq!(
        s.next_open(utc(2024, 3, 10, 5, 0)),
        Some(utc(2024, 3, 10, 7, 0))
    );
    assert_eq!(
        s.next_close(utc(2024, 3, 10, 7, 0)),
        Some(utc(2024, 3, 10, 8, 0))
    );
}

#[test]
fn new_york_2024_weekly_hours_follow_the_offset() {
    let mut s = Schedule::weekly(chrono_tz::America::New_York);
    for day in [Weekday::Mon, Weekday::Fri] {
        s = s.with_window(day, "08:00-18:00".parse().unwrap());
    }
    // Friday 2024-03-08 08:00 EST is 13:00Z; Monday 03-11 08:00 EDT is 12:00Z.
    assert_eq!(
        s.next_open(utc(2024, 3, 8, 6, 0)),
        Some(utc(2024, 3, 8, 13, 0))
    );
    assert_eq!(
        s.next_open(utc(2024, 3, 9, 12, 0)),
        Some(utc(2024, 3, 11, 12, 0))
    );
}

#[test]
fn new_york_2024_repeated_hour_open_in_both_occurrences() {
    // 2024-11-03 02:00 EDT became 01:00 EST, at 06:00 UTC.
    let s = one_window(chrono_tz::America::New_York, Weekday::Sun, "01:00-01:30");
    assert!(s.is_open(utc(2024, 11, 3, 5, 10))); // 01:10 EDT
    assert!(!s.is_open(utc(2024, 11, 3, 5, 40))); // 01:40 EDT
    assert!(s.is_open(utc(2024, 11, 3, 6, 10))); // 01:10 EST
    assert!(!s.is_open(utc(2024, 11, 3, 6, 40))); // 01:40 EST
    assert_eq!(
        s.next_open(utc(2024, 11, 3, 5, 40)),
        Some(utc(2024, 11, 3, 6, 0))
    );
}

#[test]
fn new_york_2024_window_around_the_fold_reopens_at_the_change() {
    // 00:30-01:30: open 00:30-01:30 EDT, closed for the first 01:30-02:00,
    // open again from the change (01:00 EST) to 01:30 EST.
    let s = one_window(chrono_tz::America::New_York, Weekday::Sun, "00:30-01:30");
    assert_eq!(
        s.next_close(utc(2024, 11, 3, 4, 45)),
        Some(utc(2024, 11, 3, 5, 30))
    );
    assert_eq!(
        s.next_open(utc(2024, 11, 3, 5, 30)),
        Some(utc(2024, 11, 3, 6, 0))
    );
    assert_eq!(
        s.next_close(utc(2024, 11, 3, 6, 0)),
        Some(utc(2024, 11, 3, 6, 30))
    );
}

#[test]
fn lisbon_2024_spring_forward() {
    // 2024-03-31 01:00 WET became 02:00 WEST, at 01:00 UTC.
    let s = one_window(chrono_tz::Europe::Lisbon, Weekday::Sun, "01:15-03:00");
    assert!(!s.is_open(utc(2024, 3, 31, 0, 59)));
    assert!(s.is_open(utc(2024, 3, 31, 1, 0)));
    assert_eq!(
        s.next_open(utc(2024, 3, 30, 23, 0)),
        Some(utc(2024, 3, 31, 1, 0))
    );
    assert_eq!(
        s.next_close(utc(2024, 3, 31, 1, 0)),
        Some(utc(2024, 3, 31, 2, 0))
    );
}

#[test]
fn lisbon_2024_fall_back() {
    // 2024-10-27 02:00 WEST became 01:00 WET, at 01:00 UTC.
    let s = one_window(chrono_tz::Europe::Lisbon, Weekday::Sun, "01:00-01:30");
    assert!(s.is_open(utc(2024, 10, 27, 0, 15)));
    assert!(!s.is_open(utc(2024, 10, 27, 0, 45)));
    assert!(s.is_open(utc(2024, 10, 27, 1, 15)));
    assert!(!s.is_open(utc(2024, 10, 27, 1, 45)));
    assert_eq!(
        s.next_open(utc(2024, 10, 26, 12, 0)),
        Some(utc(2024, 10, 27, 0, 0))
    );
    assert_eq!(
        s.next_open(utc(2024, 10, 27, 0, 45)),
        Some(utc(2024, 10, 27, 1, 0))
    );
    assert_eq!(
        s.next_close(utc(2024, 10, 27, 1, 0)),
        Some(utc(2024, 10, 27, 1, 30))
    );
}
