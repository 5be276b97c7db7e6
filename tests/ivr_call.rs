//! The IVR end to end: a real `ura serve` on the demo configuration (with
//! a 1 s stub queue) and a caller written in Rust. What the caller heard is
//! compared with the prompts' frames; the call records say what happened.

mod common;

use std::time::Duration;

use common::caller::{by_sequence, find_frames, find_frames_lossy, Caller};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

fn wait(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// ura on the demo configuration, services holding 1 s before "no agents".
fn ura() -> Ura {
    Ura::start_demo_with_short_hold(&[])
}

/// Finds the clips in order in what was heard; returns where the last ended.
fn heard_in_order(caller: &Caller, prompts: &BuiltinPrompts, names: &[&str], from: usize) -> usize {
    let frames = by_sequence(&caller.audio());
    let mut at = from;
    for name in names {
        let clip = prompts
            .get(name)
            .unwrap_or_else(|| panic!("no prompt {name}"));
        let bytes = clip.bytes(Codec::Pcmu);
        let found = find_frames_lossy(&frames, bytes, at).unwrap_or_else(|| {
            panic!(
                "{name} not heard after frame {at} ({} frames)",
                frames.len()
            )
        });
        at = found + bytes.len() / 160;
    }
    at
}

const MENU: [&str; 8] = [
    "menu-para",
    "label-vendas",
    "menu-tecle",
    "digit-1",
    "menu-para",
    "label-suporte",
    "menu-tecle",
    "digit-2",
];

#[test]
fn open_number_menu_choice_queue_and_no_answer() {
    let ura = ura();
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    caller.silence(5);
    // Welcome (5.1 s) and the menu (about 4 s), then choose 2 (suporte).
    wait(9_800);
    let at = heard_in_order(&caller, &prompts, &["ivr-welcome"], 0);
    let at = heard_in_order(&caller, &prompts, &MENU, at);
    caller.rfc4733_digit('2');
    // 1 s of hold music, the no-answer prompt (6 s), BYE.
    let bye = caller.expect_request("BYE", Duration::from_secs(12));
    assert!(
        bye.is_some(),
        "ura hangs up after no-answer; logs: {:?}",
        ura.logs()
    );
    let music = prompts.get("hold-music").unwrap().bytes(Codec::Pcmu);
    let frames = by_sequence(&caller.audio());
    let hold =
        find_frames_lossy(&frames, &music[..160 * 40], at).expect("hold music after the choice");
    heard_in_order(&caller, &prompts, &["ivr-no-answer"], hold);
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1000 yes open 2 suporte ivr-queueunavailable/ura"
    );
}

#[test]
fn closed_number_says_so_and_hangs_up() {
    let ura = ura();
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1001").status(), Some(200));
    caller.silence(5);
    let bye = caller.expect_request("BYE", Duration::from_secs(20));
    assert!(
        bye.is_some(),
        "BYE after the closed prompt; logs: {:?}",
        ura.logs()
    );
    heard_in_order(&caller, &prompts, &["ivr-welcome", "ivr-closed"], 0);
    let frames: Vec<Vec<u8>> = caller.audio().iter().map(|p| p.payload.clone()).collect();
    let menu = prompts.get("menu-para").unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&frames, menu, 0).is_none(),
        "no menu when closed"
    );
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1001 yes closed - - ivr-outofhours/ura"
    );
}

#[test]
fn invalid_option_plays_the_invalid_prompt_and_the_menu_again() {
    let ura = ura();
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    caller.silence(5);
    // Press 9 while the menu plays (barge-in).
    wait(6_000);
    caller.rfc4733_digit('9');
    wait(6_500);
    let at = heard_in_order(&caller, &prompts, &["ivr-welcome", "ivr-invalid"], 0);
    heard_in_order(&caller, &prompts, &MENU, at);
    // The log says so, with the digit.
    assert!(
        ura.wait_log(&["invalid option", "digits=9"]).is_some(),
        "{:?}",
        ura.logs()
    );
    assert_eq!(caller.bye(), Some(200));
    assert_eq!(
        ura.records(1)[0].outcome(),
        "1000 yes open 9 - caller-bye/caller"
    );
}

#[test]
fn closed_prompt_says_the_next_opening() {
    use chrono::{Datelike, Timelike};
    // Open only tomorrow (UTC) 08:00-09:00: now it is closed, and opens "amanhã às 8 horas".
    let open_day = (chrono::Utc::now() + chrono::Duration::days(1)).weekday();
    let day =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][open_day.num_days_from_monday() as usize];
    let config = format!(
        "{}\n[[numbers]]\nnumber = \"2000\"\nname = \"amanhã\"\nivr = \"demo\"\nschedule = \"amanha\"\n\
[schedules.amanha]\ntimezone = \"UTC\"\nweekly = {{ {day} = [\"08:00-09:00\"] }}\n",
        include_str!("../src/demo.toml")
    );
    let ura = Ura::start_with_config(&config, &[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("2000").status(), Some(200));
    caller.silence(5);
    let bye = caller.expect_request("BYE", Duration::from_secs(20));
    assert!(
        bye.is_some(),
        "BYE after the closed prompt; logs: {:?}",
        ura.logs()
    );
    // The day word follows from the instant ura evaluated the schedule at
    // (its log says which), not from this test's clock: a run across
    // midnight UTC hears "today" (00:xx, before 08:00 on the open day).
    let logs = ura.logs();
    let line = logs
        .iter()
        .find(|l| l.contains("schedule decision") && l.contains("2000"))
        .unwrap_or_else(|| panic!("no schedule decision logged: {logs:?}"));
    let at = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("at="))
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
        .unwrap_or_else(|| panic!("no instant in: {line}"))
        .with_timezone(&chrono::Utc);
    let day_word = if at.weekday().succ() == open_day {
        "day-tomorrow"
    } else {
        assert!(
            at.weekday() == open_day && at.hour() < 8,
            "ura evaluated at {at}, the schedule opens on {open_day:?}"
        );
        "day-today"
    };
    heard_in_order(
        &caller,
        &prompts,
        &[
            "ivr-welcome",
            "ivr-closed",
            "next-opening",
            day_word,
            "hour-8",
        ],
        0,
    );
}

#[test]
fn an_english_number_speaks_english() {
    use ura_prompts::BuiltinLanguage;
    let config = format!(
        "{}\n[[numbers]]\nnumber = \"+1 212 555 0100\"\ncountry = \"US\"\nname = \"New York\"\nlanguage = \"en\"\nivr = \"demo\"\ntimezone = \"America/New_York\"\n",
        include_str!("../src/demo.toml")
    );
    let ura = Ura::start_with_config(&config, &[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    // Dialled in national form: matched to +12125550100.
    assert_eq!(caller.call("2125550100").status(), Some(200));
    caller.silence(5);
    wait(6_500);
    let frames = by_sequence(&caller.audio());
    let en = |name: &str| {
        prompts
            .get_in(BuiltinLanguage::En, name)
            .unwrap()
            .bytes(Codec::Pcmu)
            .to_vec()
    };
    let at = find_frames_lossy(&frames, &en("ivr-welcome"), 0).expect("the English welcome");
    assert!(
        find_frames_lossy(&frames, &en("menu-para"), at).is_some(),
        "'For' …"
    );
    assert!(
        find_frames_lossy(&frames, &en("label-vendas"), at).is_some(),
        "'sales'"
    );
    assert_eq!(caller.bye(), Some(200));
}
