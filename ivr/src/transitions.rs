//! Finding the instants where a zone's UTC offset changes (DST and such).

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Sampling step. Two offset changes closer than this would be missed; no
/// zone in the database changes twice within six hours.
const STEP_HOURS: i64 = 6;

fn offset_secs(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// Every instant in `[from, to)` at which `tz`'s offset differs from the
/// instant one second before, to the second, in order.
pub(crate) fn offset_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let step = STEP_HOURS * 3600;
    let at = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0);
    let mut found = Vec::new();
    // Whole seconds, so the bisection lands on the second of the change.
    let mut lo = from.timestamp();
    let end = to.timestamp();
    let Some(start) = at(lo) else {
        return found;
    };
    let mut lo_off = offset_secs(tz, start);
    while lo < end {
        let hi = lo.saturating_add(step);
        let Some(hi_time) = at(hi) else {
            break;
        };
        let hi_off = offset_secs(tz, hi_time);
        if hi_off != lo_off {
            // Narrow (a, b] keeping offset(a) == lo_off != offset(b).
            let (mut a, mut b) = (lo, hi);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                match at(mid) {
                    Some(t) if offset_secs(tz, t) == lo_off => a = mid,
                    _ => b = mid,
                }
            }
            if let Some(change) = at(b).filter(|c| *c < to) {
                found.push(change);
            }
        }
        lo = hi;
        lo_off = hi_off;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_new_york_2024_changes() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let got = offset_changes(tz, from, to);
        assert_eq!(
            got,
            vec![
                Utc.with_ymd_and_hms(2024, 3, 10, 7, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2024, 11, 3, 6, 0, 0).unwrap(),
            ]
        );
    }

    #[test]
    fn utc_has_none() {
        let from = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert!(offset_changes(Tz::UTC, from, to).is_empty());
    }
}
