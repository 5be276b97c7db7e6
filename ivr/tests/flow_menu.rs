//! Menu rules: barge-in, timeouts, invalid and missing input, fallbacks,
//! repeat, operator, submenus and multi-key options.

mod common;

use common::*;
use ura_ivr::{
    BuiltinPrompt, Decision, Event, Fallback, FallbackReason, HangupCause, MenuId, QueueResult,
};

#[test]
fn key_after_menu_prompt_enqueues() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.now = call.at(4000);
    let mut want = vec![digits("main", "1")];
    want.extend(chosen("vendas"));
    assert_eq!(call.press("1"), want);
    assert_eq!(call.flow.poll_timeout(), None);
    assert!(!call.flow.is_finished());
}

#[test]
fn barge_in_during_menu_prompt_stops_it_and_counts() {
    let mut call = Call::open();
    call.reach_menu();
    let mut want = vec![stop(2), digits("main", "3")];
    want.extend(chosen("financeiro"));
    assert_eq!(call.press("3"), want);
    // The engine's late "finished" for the stopped prompt changes nothing.
    assert_eq!(call.finish(2), vec![]);
}

#[test]
fn first_key_timeout_is_no_input_then_menu_again() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    assert_eq!(call.wait(4999), vec![]);
    assert_eq!(
        call.wait(1),
        vec![
            ev(Event::NoInput {
                menu: MenuId::root()
            }),
            builtin(3, BuiltinPrompt::NoInput),
        ]
    );
    assert_eq!(call.flow.poll_timeout(), None);
    assert_eq!(call.finish(3), vec![main_menu(4)]);
}

#[test]
fn invalid_option_then_menu_again() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    assert_eq!(
        call.press("9"),
        vec![
            ev(Event::InvalidOption {
                menu: MenuId::root(),
                digits: "9".into()
            }),
            builtin(3, BuiltinPrompt::InvalidOption),
        ]
    );
    assert_eq!(call.finish(3), vec![main_menu(4)]);
}

#[test]
fn barge_in_during_invalid_and_no_input_prompts() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.press("9"); // invalid prompt, token 3
    let mut want = vec![stop(3), digits("main", "1")];
    want.extend(chosen("vendas"));
    assert_eq!(call.press("1"), want);

    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.wait(5000); // no-input prompt, token 3
    assert_eq!(
        call.press("2"),
        vec![stop(3), digits("main", "2"), support_menu(4)]
    );
}

#[test]
fn three_failures_play_no_answer_and_hang_up() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.press("9"); // 1: invalid, token 3
    assert_eq!(call.finish(3), vec![main_menu(4)]);
    call.finish(4);
    call.wait(5000); // 2: no input, token 5
    assert_eq!(call.finish(5), vec![main_menu(6)]);
    call.finish(6);
    assert_eq!(
        call.press("8"),
        vec![
            ev(Event::InvalidOption {
                menu: MenuId::root(),
                digits: "8".into()
            }),
            builtin(7, BuiltinPrompt::InvalidOption),
        ]
    );
    // No barge-in into a menu that will not come back.
    assert_eq!(
        call.press("1"),
        vec![ev(Event::DigitIgnored { digit: '1' })]
    );
    assert_eq!(
        call.finish(7),
        vec![
            ev(Event::Fallback {
                reason: FallbackReason::MaxFailures
            }),
            builtin(8, BuiltinPrompt::NoAnswer),
        ]
    );
    assert_eq!(call.finish(8), vec![hangup(HangupCause::MenuFailures)]);
    assert!(call.flow.is_finished());
}

#[test]
fn failures_go_to_the_configured_default_service() {
    let mut config = config();
    config.max_failures = 1;
    config.fallback = Fallback::Service("geral".into());
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    call.finish(2);
    call.press("#"); // a lone terminator is no input
    let mut want = vec![ev(Event::Fallback {
        reason: FallbackReason::MaxFailures,
    })];
    want.extend(chosen("geral"));
    assert_eq!(call.finish(3), want);
}

#[test]
fn star_repeats_the_menu() {
    let mut call = Call::open();
    call.reach_menu();
    assert_eq!(
        call.press("*"),
        vec![
            stop(2),
            ev(Event::MenuRepeated {
                menu: MenuId::root()
            }),
            main_menu(3),
        ]
    );
}

#[test]
fn zero_goes_to_the_operator() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    let mut want = vec![digits("main", "0")];
    want.extend(chosen("recepcao"));
    assert_eq!(call.press("0"), want);
}

#[test]
fn zero_without_operator_is_invalid() {
    let mut config = config();
    config.operator = None;
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    call.finish(2);
    assert_eq!(
        call.press("0"),
        vec![
            ev(Event::InvalidOption {
                menu: MenuId::root(),
                digits: "0".into()
            }),
            builtin(3, BuiltinPrompt::InvalidOption),
        ]
    );
}

#[test]
fn submenu_and_back() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    assert_eq!(call.press("2"), vec![digits("main", "2"), support_menu(3)]);
    call.finish(3);
    assert_eq!(
        call.press("*"),
        vec![
            ev(Event::MenuBack {
                from: "suporte".into(),
                to: MenuId::root()
            }),
            main_menu(4),
        ]
    );
}

#[test]
fn distinct_back_key_and_repeat_in_a_submenu() {
    let mut config = config();
    config.keys.back = '9';
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    call.press("2"); // barge into suporte, token 3
    assert_eq!(
        call.press("*"),
        vec![
            stop(3),
            ev(Event::MenuRepeated {
                menu: "suporte".into()
            }),
            support_menu(4),
        ]
    );
    assert_eq!(
        call.press("9"),
        vec![
            stop(4),
            ev(Event::MenuBack {
                from: "suporte".into(),
                to: MenuId::root()
            }),
            main_menu(5),
        ]
    );
}

fn in_support() -> Call {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.press("2");
    call.finish(3);
    call
}

#[test]
fn multi_key_option_completes_when_unambiguous() {
    let mut call = in_support();
    assert_eq!(call.press("1"), vec![]);
    assert_eq!(
        call.flow.poll_timeout(),
        Some(call.now + std::time::Duration::from_secs(3))
    );
    let mut want = vec![digits("suporte", "12")];
    want.extend(chosen("telefone"));
    assert_eq!(call.press("2"), want);
}

#[test]
fn inter_key_timeout_takes_the_shorter_option() {
    let mut call = in_support();
    call.press("1");
    assert_eq!(call.wait(2999), vec![]);
    let mut want = vec![digits("suporte", "1")];
    want.extend(chosen("internet"));
    assert_eq!(call.wait(1), want);
}

#[test]
fn inter_key_timer_restarts_on_each_key() {
    let mut call = in_support();
    call.wait(4000); // 4 s of the 5 s first-key timer
    call.press("1");
    assert_eq!(call.wait(2000), vec![]);
    let mut want = vec![digits("suporte", "11")];
    want.extend(chosen("empresas"));
    assert_eq!(call.press("1"), want);
}

#[test]
fn terminator_ends_input_early() {
    let mut call = in_support();
    call.press("1");
    let mut want = vec![digits("suporte", "1")];
    want.extend(chosen("internet"));
    assert_eq!(call.press("#"), want);
}

#[test]
fn keys_no_option_starts_with_are_invalid_at_once() {
    let mut call = in_support();
    call.press("1");
    assert_eq!(
        call.press("3"),
        vec![
            ev(Event::InvalidOption {
                menu: "suporte".into(),
                digits: "13".into()
            }),
            builtin(4, BuiltinPrompt::InvalidOption),
        ]
    );
    // Back to the same submenu.
    assert_eq!(call.finish(4), vec![support_menu(5)]);
}

#[test]
fn configurable_timeouts() {
    let mut config = config();
    config.timeouts.first_digit_ms = 2000;
    config.timeouts.inter_digit_ms = 500;
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    call.finish(2);
    assert_eq!(call.flow.poll_timeout(), Some(call.at(2000)));
    call.press("2");
    call.finish(3);
    call.press("1");
    assert_eq!(call.flow.poll_timeout(), Some(call.at(500)));
    assert_eq!(call.wait(500)[0], digits("suporte", "1"));
}

#[test]
fn entering_a_submenu_resets_failures() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.press("9"); // failure 1
    call.finish(3);
    call.finish(4);
    call.press("9"); // failure 2
    call.finish(5);
    call.press("2"); // barge into the menu prompt (6), open suporte (7)
    call.finish(7);
    assert_eq!(call.press("9")[1], builtin(8, BuiltinPrompt::InvalidOption));
    assert_eq!(call.finish(8), vec![support_menu(9)]);
}

#[test]
fn closed_service_says_so_and_returns_to_the_menu() {
    let mut call = Call::new(config(), Decision::open().with_closed_service("vendas"));
    call.reach_menu();
    call.finish(2);
    assert_eq!(
        call.press("1"),
        vec![
            digits("main", "1"),
            ev(Event::ServiceClosed {
                service: "vendas".into()
            }),
            builtin(3, BuiltinPrompt::ServiceClosed),
        ]
    );
    assert_eq!(call.finish(3), vec![main_menu(4)]);
    // Barge-in works during that prompt too.
    call.finish(4);
    call.press("1");
    let mut want = vec![stop(5), digits("main", "3")];
    want.extend(chosen("financeiro"));
    assert_eq!(call.press("3"), want);
}

#[test]
fn max_menu_plays_bounds_repeats() {
    let mut config = config();
    config.max_menu_plays = 2;
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    assert_eq!(call.press("*").last(), Some(&main_menu(3)));
    assert_eq!(
        call.press("*"),
        vec![
            stop(3),
            ev(Event::MenuRepeated {
                menu: MenuId::root()
            }),
            ev(Event::Fallback {
                reason: FallbackReason::MaxMenuPlays
            }),
            builtin(4, BuiltinPrompt::NoAnswer),
        ]
    );
    assert_eq!(call.finish(4), vec![hangup(HangupCause::MenuFailures)]);
}

fn queued() -> Call {
    let mut call = Call::open();
    call.reach_menu();
    call.press("1");
    call
}

#[test]
fn queue_without_agents_plays_no_answer_and_hangs_up() {
    let mut call = queued();
    assert_eq!(
        call.queue(QueueResult::NoAgents),
        vec![
            ev(Event::Queue {
                service: "vendas".into(),
                result: QueueResult::NoAgents
            }),
            builtin(3, BuiltinPrompt::NoAnswer),
        ]
    );
    assert_eq!(call.finish(3), vec![hangup(HangupCause::QueueUnavailable)]);
}

#[test]
fn queue_failure_follows_the_fallback_service_once() {
    let mut config = config();
    config.fallback = Fallback::Service("geral".into());
    let mut call = Call::new(config, Decision::open());
    call.reach_menu();
    call.press("1");
    call.queue(QueueResult::WaitedTooLong);
    let mut want = vec![ev(Event::Fallback {
        reason: FallbackReason::QueueUnavailable,
    })];
    want.extend(chosen("geral"));
    assert_eq!(call.finish(3), want);
    call.queue(QueueResult::NoAgents);
    assert_eq!(call.finish(4), vec![hangup(HangupCause::QueueUnavailable)]);
}

#[test]
fn closed_fallback_service_is_not_used() {
    let mut config = config();
    config.fallback = Fallback::Service("geral".into());
    let mut call = Call::new(config, Decision::open().with_closed_service("geral"));
    call.reach_menu();
    call.press("1");
    call.queue(QueueResult::NoAgents);
    assert_eq!(call.finish(3), vec![hangup(HangupCause::QueueUnavailable)]);
}

#[test]
fn answered_queue_finishes_the_flow() {
    let mut call = queued();
    assert_eq!(
        call.queue(QueueResult::Answered),
        vec![ev(Event::Queue {
            service: "vendas".into(),
            result: QueueResult::Answered
        })]
    );
    assert!(call.flow.is_finished());
    assert_eq!(call.queue(QueueResult::NoAgents), vec![]);
}

/// A text channel sends whole entries: a label picks its option, a prefix
/// of longer options ends there (as if the terminator followed), and
/// words that are no option are an invalid option of that menu.
#[test]
fn text_entries_are_whole_options_labels_or_invalid() {
    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.flow.text_entry(call.now, "Suporte");
    let out = call.drain();
    assert_eq!(out[0], digits("main", "2"), "{out:?}");
    assert_eq!(out[1], support_menu(3));
    call.finish(3);
    // "1" is a whole entry: internet, not a wait for "11" or "12".
    call.flow.text_entry(call.now, "1");
    let out = call.drain();
    assert!(out.contains(&enqueue("internet")), "{out:?}");

    let mut call = Call::open();
    call.reach_menu();
    call.finish(2);
    call.flow.text_entry(call.now, "bom dia");
    let out = call.drain();
    assert_eq!(
        out[0],
        ev(Event::InvalidOption {
            menu: MenuId::root(),
            digits: "bom dia".into()
        })
    );
    assert_eq!(out[1], builtin(3, BuiltinPrompt::InvalidOption));
}
