//! Random keys, timeouts, prompt ends and queue results: the flow never
//! panics and always reaches Enqueue or Hangup within a bounded number of
//! steps.

mod common;

use std::time::Duration;

use common::*;
use ura_ivr::{Decision, Fallback, Output, PlayToken, QueueResult};

const KEYS: &[char] = &['0', '1', '2', '3', '9', '*', '#', 'A', 'x', '1', '1', '2'];
const MAX_STEPS: usize = 400;

/// Drives one call with a seeded random caller; returns the steps taken to
/// reach the first Enqueue or Hangup, then keeps going through queue
/// results until the flow finishes.
fn run(seed: u64) -> usize {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut config = config();
    if rng.bool() {
        config.fallback = Fallback::Service("geral".into());
    }
    if rng.bool() {
        config.keys.back = '9';
    }
    config.max_failures = rng.u32(1..=4);
    let decision = match rng.u8(0..4) {
        0 => Decision::closed(Some("amanhã às 8 horas".into())),
        1 => Decision::open().with_closed_service("vendas"),
        _ => Decision::open(),
    };
    let mut call = Call::new(config, decision);
    let mut playing: Option<PlayToken> = None;
    let mut first_end = None;
    call.flow.answered(call.now);
    for step in 0..MAX_STEPS {
        let mut queued = false;
        while let Some(out) = call.flow.poll_output() {
            match out {
                Output::Play { token, .. } => playing = Some(token),
                Output::StopPlay { token } => {
                    assert_eq!(Some(token), playing, "seed {seed}: stop of another prompt");
                    playing = None;
                }
                Output::Enqueue { .. } => {
                    first_end.get_or_insert(step);
                    queued = true;
                    playing = None;
                }
                Output::Hangup { .. } => {
                    first_end.get_or_insert(step);
                    assert!(
                        call.flow.is_finished(),
                        "seed {seed}: hangup but not finished"
                    );
                }
                Output::Event(_) => {}
            }
        }
        if call.flow.is_finished() {
            return first_end.unwrap_or(step);
        }
        if queued {
            let result = match rng.u8(0..3) {
                0 => QueueResult::Answered,
                1 => QueueResult::NoAgents,
                _ => QueueResult::WaitedTooLong,
            };
            call.flow.queue_result(call.now, result);
            continue;
        }
        call.now += Duration::from_millis(rng.u64(0..2000));
        match rng.u8(0..4) {
            0 | 1 => call.flow.digit(call.now, KEYS[rng.usize(0..KEYS.len())]),
            2 => {
                if let Some(token) = playing.take() {
                    // Sometimes a stale token, which must be ignored.
                    let token = if rng.u8(0..8) == 0 {
                        PlayToken(token.0 + 100)
                    } else {
                        token
                    };
                    call.flow.prompt_finished(call.now, token);
                    if token.0 > 100 {
                        playing = Some(PlayToken(token.0 - 100));
                    }
                }
            }
            _ => {
                if let Some(deadline) = call.flow.poll_timeout() {
                    assert!(deadline >= call.t0, "seed {seed}: deadline in the past");
                    call.now = call.now.max(deadline);
                    call.flow.handle_timeout(call.now);
                }
            }
        }
    }
    panic!("seed {seed}: no Enqueue or Hangup within {MAX_STEPS} steps");
}

#[test]
fn random_callers_always_end() {
    let mut longest = 0;
    for seed in 0..3000 {
        longest = longest.max(run(seed));
    }
    assert!(longest < MAX_STEPS);
}
