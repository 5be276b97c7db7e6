//! Evaluating schedules into the flow's decision at answer time.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use ura_ivr::{Decision, Hours, Lang, Schedule, ScheduleConfig, ServiceId};

fn schedule(text: &str) -> Schedule {
    toml::from_str::<ScheduleConfig>(text)
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn evaluates_number_and_services() {
    let number = schedule(
        "timezone = \"America/Sao_Paulo\"\nweekly = { mon = [\"08:00-18:00\"], fri = [\"08:00-18:00\"] }",
    );
    let services = BTreeMap::from([
        (
            ServiceId::from("vendas"),
            schedule("timezone = \"America/Sao_Paulo\"\nweekly = { mon = [\"08:00-12:00\"] }"),
        ),
        (
            ServiceId::from("suporte"),
            schedule("timezone = \"UTC\"\nalways_open = true"),
        ),
    ]);
    // Friday 2024-06-14 19:00 -03: closed until Monday 08:00.
    let friday_night = Utc.with_ymd_and_hms(2024, 6, 14, 22, 0, 0).unwrap();
    let d = Decision::evaluate(&number, &services, friday_night, Lang::PtBr);
    assert_eq!(
        d.hours,
        Hours::Closed {
            next_opening: Some("segunda-feira às 8 horas".into())
        }
    );
    // Monday 2024-06-17 13:00 -03: open, vendas closed for the afternoon.
    let monday = Utc.with_ymd_and_hms(2024, 6, 17, 16, 0, 0).unwrap();
    let d = Decision::evaluate(&number, &services, monday, Lang::En);
    assert!(d.is_open());
    assert_eq!(d.closed_services.len(), 1);
    assert!(d.closed_services.contains(&ServiceId::from("vendas")));
}

#[test]
fn never_opening_number_has_no_words() {
    let number = schedule("timezone = \"UTC\"");
    let at = Utc.with_ymd_and_hms(2024, 6, 14, 22, 0, 0).unwrap();
    let d = Decision::evaluate(&number, &BTreeMap::new(), at, Lang::PtBr);
    assert_eq!(d.hours, Hours::Closed { next_opening: None });
}
