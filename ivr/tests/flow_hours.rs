//! Answer, welcome, and the closed / single-service paths.

mod common;

use common::*;
use ura_ivr::{
    BuiltinPrompt, Decision, Event, HangupCause, IvrConfig, MenuId, Output, PlayToken, PromptName,
    PromptRef,
};

#[test]
fn closed_number_says_next_opening_and_hangs_up() {
    let mut config = config();
    config.welcome = Some(PromptName::from("boas-vindas"));
    let mut call = Call::new(
        config,
        Decision::closed(Some("segunda-feira às 8 horas".into())),
    );
    assert_eq!(
        call.answer(),
        vec![
            ev(Event::ScheduleDecision { open: false }),
            play(1, PromptRef::Configured(PromptName::from("boas-vindas"))),
        ]
    );
    assert_eq!(call.finish(1), vec![builtin(2, BuiltinPrompt::Closed)]);
    assert_eq!(
        call.finish(2),
        vec![play(
            3,
            PromptRef::NextOpening {
                words: "segunda-feira às 8 horas".into()
            }
        )]
    );
    assert!(!call.flow.is_finished());
    assert_eq!(call.finish(3), vec![hangup(HangupCause::OutOfHours)]);
    assert!(call.flow.is_finished());
    assert_eq!(call.flow.poll_timeout(), None);
}

#[test]
fn closed_without_next_opening_hangs_up_after_closed_prompt() {
    let mut call = Call::new(config(), Decision::closed(None));
    call.answer();
    call.finish(1);
    assert_eq!(call.finish(2), vec![hangup(HangupCause::OutOfHours)]);

    let mut config = config();
    config.say_next_opening = false;
    let mut call = Call::new(config, Decision::closed(Some("amanhã às 8 horas".into())));
    call.answer();
    call.finish(1);
    assert_eq!(call.finish(2), vec![hangup(HangupCause::OutOfHours)]);
}

#[test]
fn keys_during_welcome_and_closed_prompts_are_ignored() {
    let mut call = Call::new(config(), Decision::closed(None));
    call.answer();
    assert_eq!(
        call.press("1"),
        vec![ev(Event::DigitIgnored { digit: '1' })]
    );
    call.finish(1);
    assert_eq!(
        call.press("*"),
        vec![ev(Event::DigitIgnored { digit: '*' })]
    );
    assert_eq!(call.finish(2), vec![hangup(HangupCause::OutOfHours)]);
}

#[test]
fn open_number_plays_welcome_then_menu_in_configured_order() {
    let mut call = Call::open();
    assert_eq!(
        call.answer(),
        vec![
            ev(Event::ScheduleDecision { open: true }),
            builtin(1, BuiltinPrompt::Welcome),
        ]
    );
    assert_eq!(call.finish(1), vec![main_menu(2)]);
    // No timer while the menu plays; 5 s from its end.
    assert_eq!(call.flow.poll_timeout(), None);
    call.now = call.at(7000);
    assert_eq!(call.finish(2), vec![]);
    assert_eq!(call.flow.poll_timeout(), Some(call.at(12_000)));
}

fn single_service() -> IvrConfig {
    toml::from_str(
        "[menu]\nitems = [{ digits = \"1\", label = \"geral\", target = { service = \"geral\" } }]",
    )
    .unwrap()
}

#[test]
fn single_service_skips_the_menu() {
    let mut call = Call::new(single_service(), Decision::open());
    call.answer();
    assert_eq!(call.finish(1), chosen("geral").to_vec());
}

#[test]
fn single_closed_service_says_so_and_hangs_up() {
    let mut call = Call::new(
        single_service(),
        Decision::open().with_closed_service("geral"),
    );
    call.answer();
    assert_eq!(
        call.finish(1),
        vec![
            ev(Event::ServiceClosed {
                service: "geral".into()
            }),
            builtin(2, BuiltinPrompt::ServiceClosed),
        ]
    );
    assert_eq!(call.finish(2), vec![hangup(HangupCause::ServiceClosed)]);
}

#[test]
fn stray_inputs_are_ignored() {
    let mut call = Call::open();
    // Before answer: nothing happens.
    call.flow.prompt_finished(call.now, ura_ivr::PlayToken(1));
    call.flow.handle_timeout(call.now);
    assert_eq!(call.queue(ura_ivr::QueueResult::NoAgents), vec![]);
    call.answer();
    // A second answer, a wrong token, a non-DTMF key.
    assert_eq!(call.answer(), vec![]);
    assert_eq!(call.finish(7), vec![]);
    assert_eq!(
        call.press("x"),
        vec![ev(Event::DigitIgnored { digit: 'x' })]
    );
    assert_eq!(call.finish(1), vec![main_menu(2)]);
}

#[test]
fn a_key_during_the_welcome_stops_it_and_chooses_from_the_top_menu() {
    let mut call = Call::open();
    call.answer();
    let mut expected = vec![
        Output::StopPlay {
            token: PlayToken(1),
        },
        ev(Event::Digits {
            menu: MenuId::root(),
            digits: "1".into(),
        }),
    ];
    expected.extend(chosen("vendas"));
    assert_eq!(call.press("1"), expected);
    // The welcome's end, reported late, changes nothing.
    assert_eq!(call.finish(1), vec![]);
}

#[test]
fn a_wrong_key_during_the_welcome_is_an_invalid_option_of_the_top_menu() {
    let mut call = Call::open();
    call.answer();
    let out = call.press("9");
    assert_eq!(
        out[..2],
        [
            Output::StopPlay {
                token: PlayToken(1)
            },
            ev(Event::InvalidOption {
                menu: MenuId::root(),
                digits: "9".into()
            }),
        ]
    );
    assert_eq!(out[2], builtin(2, BuiltinPrompt::InvalidOption));
    assert_eq!(call.finish(2), vec![main_menu(3)]);
}

#[test]
fn an_unskippable_welcome_ignores_keys() {
    let mut config = config();
    config.welcome_barge_in = false;
    let mut call = Call::new(config, Decision::open());
    call.answer();
    assert_eq!(
        call.press("1"),
        vec![ev(Event::DigitIgnored { digit: '1' })]
    );
    assert_eq!(call.finish(1), vec![main_menu(2)]);
}

#[test]
fn a_single_service_welcome_is_not_skipped_by_keys() {
    let mut call = Call::new(single_service(), Decision::open());
    call.answer();
    assert_eq!(
        call.press("1"),
        vec![ev(Event::DigitIgnored { digit: '1' })]
    );
}
