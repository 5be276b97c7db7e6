//! Random keys, timeouts, prompt ends and queue results: the flow never
//! panics, never arms a deadline before the input that armed it, and
//! always reaches Enqueue or Hangup within a bounded number of steps.

mod common;

use std::time::Duration;

use common::*;
use ura_ivr::{Decision, Fallback, Output, PlayToken, QueueResult};

const KEYS: &[char] = &['0', '1', '2', '3', '9', '*', '#', 'A', 'x', '1', '1', '2'];
const MAX_STEPS: usize = 400;

/// How one random call went.
struct Run {
    /// Steps taken to reach the first Enqueue or Hangup (`None`: not
    /// within [`MAX_STEPS`]).
    first_end: Option<usize>,
    /// Whether the flow enqueued the caller at least once.
    enqueued: bool,
    /// Whether the flow hung up.
    hung_up: bool,
}

/// Drives one call with a seeded random caller until the flow finishes
/// (going through queue results) or [`MAX_STEPS`] pass.
fn run(seed: u64) -> Run {
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
    let (mut enqueued, mut hung_up) = (false, false);
    call.flow.answered(call.now);
    // The deadline the flow asked for after the previous input.
    let mut deadline = None;
    for step in 0..MAX_STEPS {
        // Every input happens at `call.now`: a deadline the flow (re)armed
        // in answer to it must not lie before it (one left as it was may,
        // when this driver was late to handle it).
        let next = call.flow.poll_timeout();
        if next != deadline {
            if let Some(d) = next {
                assert!(
                    d >= call.now,
                    "seed {seed} step {step}: deadline armed {:?} in the past",
                    call.now - d
                );
            }
            deadline = next;
        }
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
                    enqueued = true;
                    playing = None;
                }
                Output::Hangup { .. } => {
                    first_end.get_or_insert(step);
                    hung_up = true;
                    assert!(
                        call.flow.is_finished(),
                        "seed {seed}: hangup but not finished"
                    );
                }
                Output::Event(_) => {}
            }
        }
        if call.flow.is_finished() {
            return Run {
                first_end: Some(first_end.unwrap_or(step)),
                enqueued,
                hung_up,
            };
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
                    call.now = call.now.max(deadline);
                    call.flow.handle_timeout(call.now);
                }
            }
        }
    }
    Run {
        first_end,
        enqueued,
        hung_up,
    }
}

#[test]
fn random_callers_always_end() {
    let (mut enqueued, mut hung_up, mut longest) = (0, 0, 0);
    for seed in 0..3000 {
        let run = run(seed);
        let steps = run.first_end.unwrap_or_else(|| {
            panic!("seed {seed}: no Enqueue or Hangup within {MAX_STEPS} steps")
        });
        longest = longest.max(steps);
        enqueued += usize::from(run.enqueued);
        hung_up += usize::from(run.hung_up);
    }
    // The random callers reach both ends, so the property was exercised.
    assert!(
        enqueued > 100 && hung_up > 100,
        "enqueued {enqueued}, hung up {hung_up}"
    );
    eprintln!("longest: {longest} steps to an end; {enqueued} enqueued, {hung_up} hung up");
}
