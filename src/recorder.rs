//! Recording prompts by phone, as PBX admins expect: dial the feature code
//! (default `*97`), enter the PIN and `#`, speak after the beep, `#` stops;
//! then `1` plays it back, `2` saves it under a prompt number (typed and
//! ended with `#`), `3` records again.
//!
//! A sans-I/O state machine: inputs (started, digit, prompt finished,
//! recording done, timeout) with `now`; actions out; `poll_timeout` says when
//! the next timeout is due.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a caller may take to type the PIN or a number.
pub const INPUT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest recording.
pub const MAX_RECORDING: Duration = Duration::from_secs(300);
/// Wrong PINs before hanging up.
pub const MAX_PIN_TRIES: u32 = 3;

/// What the recorder asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecAction {
    /// Play these built-in clips, one after the other (stopping what plays).
    Play(Vec<&'static str>),
    /// Play back the recording.
    PlayRecording,
    /// Stop what plays.
    StopPlay,
    /// Start keeping the caller's audio.
    Record,
    /// Stop keeping it (the engine answers with `recorded`).
    StopRecord,
    /// Save the recording as prompt `name`.
    Save {
        /// The prompt's name (the digits typed).
        name: String,
    },
    /// Hang up.
    Hangup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Prompting for or reading the PIN.
    Pin,
    /// Instructions and beep playing; recording starts when they end.
    Instructions,
    Recording,
    /// Waiting for the engine's `recorded`.
    Stopping,
    /// The 1/2/3 menu.
    Menu,
    PlayingBack,
    /// Reading the prompt number.
    Number,
    /// Saying "saved" before hanging up.
    Done,
}

/// The record-by-phone flow of one call.
#[derive(Debug)]
pub struct Recorder {
    pin: String,
    state: State,
    typed: String,
    tries: u32,
    has_recording: bool,
    deadline: Option<Instant>,
    out: VecDeque<RecAction>,
}

impl Recorder {
    /// A flow that admits the caller who types `pin`.
    pub fn new(pin: &str) -> Recorder {
        Recorder {
            pin: pin.to_string(),
            state: State::Idle,
            typed: String::new(),
            tries: 0,
            has_recording: false,
            deadline: None,
            out: VecDeque::new(),
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<RecAction> {
        self.out.pop_front()
    }

    /// When `handle_timeout` is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn play(&mut self, clips: &[&'static str]) {
        self.out.push_back(RecAction::Play(clips.to_vec()));
    }

    fn hang_up(&mut self) {
        self.deadline = None;
        self.state = State::Done;
        self.out.push_back(RecAction::Hangup);
    }

    /// The call is up.
    pub fn started(&mut self, now: Instant) {
        self.state = State::Pin;
        self.play(&["rec-ask-pin"]);
        self.deadline = Some(now + INPUT_TIMEOUT);
    }

    fn menu(&mut self, now: Instant) {
        self.state = State::Menu;
        self.typed.clear();
        self.play(&["rec-menu"]);
        self.deadline = Some(now + INPUT_TIMEOUT);
    }

    fn instructions(&mut self) {
        self.state = State::Instructions;
        self.deadline = None;
        self.play(&["rec-instructions", "beep"]);
    }

    /// The caller pressed a key.
    pub fn digit(&mut self, now: Instant, key: char) {
        match self.state {
            State::Pin | State::Number => {
                if key != '#' {
                    self.typed.push(key);
                    self.deadline = Some(now + INPUT_TIMEOUT);
                    return;
                }
                let typed = std::mem::take(&mut self.typed);
                if self.state == State::Number {
                    if typed.is_empty() {
                        self.play(&["rec-ask-number"]);
                        return;
                    }
                    self.out.push_back(RecAction::Save { name: typed });
                    self.state = State::Done;
                    self.deadline = None;
                    self.play(&["rec-saved"]);
                } else if typed == self.pin {
                    self.out.push_back(RecAction::StopPlay);
                    self.instructions();
                } else {
                    self.tries += 1;
                    if self.tries >= MAX_PIN_TRIES {
                        self.state = State::Done;
                        self.deadline = None;
                        self.play(&["rec-bad-pin"]);
                    } else {
                        self.play(&["rec-bad-pin", "rec-ask-pin"]);
                        self.deadline = Some(now + INPUT_TIMEOUT);
                    }
                }
            }
            State::Recording if key == '#' => {
                self.state = State::Stopping;
                self.out.push_back(RecAction::StopRecord);
            }
            State::Menu | State::PlayingBack => match key {
                '1' => {
                    self.state = State::PlayingBack;
                    self.deadline = None;
                    self.out.push_back(RecAction::PlayRecording);
                }
                '2' => {
                    self.state = State::Number;
                    self.typed.clear();
                    self.play(&["rec-ask-number"]);
                    self.deadline = Some(now + INPUT_TIMEOUT);
                }
                '3' => self.instructions(),
                _ => {}
            },
            _ => {}
        }
    }

    /// What was playing reached its end.
    pub fn play_finished(&mut self, now: Instant) {
        match self.state {
            State::Instructions => {
                self.state = State::Recording;
                self.out.push_back(RecAction::Record);
            }
            State::PlayingBack => self.menu(now),
            State::Done => self.hang_up(),
            _ => {}
        }
    }

    /// The engine stopped the recording (on `#`, or at its limit).
    pub fn recorded(&mut self, now: Instant, samples: usize) {
        if matches!(self.state, State::Recording | State::Stopping) {
            self.has_recording = samples > 0;
            if self.has_recording {
                self.menu(now);
            } else {
                self.instructions();
            }
        }
    }

    /// Runs the timeout due at `now`: no input in time ends the call.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.hang_up();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Recorder) -> Vec<RecAction> {
        std::iter::from_fn(|| r.poll_action()).collect()
    }

    fn keys(r: &mut Recorder, now: Instant, keys: &str) -> Vec<RecAction> {
        for k in keys.chars() {
            r.digit(now, k);
        }
        drain(r)
    }

    #[test]
    fn record_listen_and_save() {
        let t0 = Instant::now();
        let mut r = Recorder::new("1234");
        r.started(t0);
        assert_eq!(drain(&mut r), [RecAction::Play(vec!["rec-ask-pin"])]);
        assert_eq!(
            keys(&mut r, t0, "1234#"),
            [
                RecAction::StopPlay,
                RecAction::Play(vec!["rec-instructions", "beep"])
            ]
        );
        r.play_finished(t0);
        assert_eq!(drain(&mut r), [RecAction::Record]);
        assert_eq!(
            keys(&mut r, t0, "5#"),
            [RecAction::StopRecord],
            "keys other than # do not stop it"
        );
        r.recorded(t0, 16_000);
        assert_eq!(drain(&mut r), [RecAction::Play(vec!["rec-menu"])]);
        assert_eq!(keys(&mut r, t0, "1"), [RecAction::PlayRecording]);
        r.play_finished(t0);
        assert_eq!(drain(&mut r), [RecAction::Play(vec!["rec-menu"])]);
        assert_eq!(
            keys(&mut r, t0, "2"),
            [RecAction::Play(vec!["rec-ask-number"])]
        );
        assert_eq!(
            keys(&mut r, t0, "42#"),
            [
                RecAction::Save { name: "42".into() },
                RecAction::Play(vec!["rec-saved"])
            ]
        );
        r.play_finished(t0);
        assert_eq!(drain(&mut r), [RecAction::Hangup]);
    }

    #[test]
    fn record_again_then_save() {
        let t0 = Instant::now();
        let mut r = Recorder::new("0");
        r.started(t0);
        keys(&mut r, t0, "0#");
        r.play_finished(t0);
        keys(&mut r, t0, "#");
        r.recorded(t0, 800);
        drain(&mut r);
        assert_eq!(
            keys(&mut r, t0, "3"),
            [RecAction::Play(vec!["rec-instructions", "beep"])]
        );
        r.play_finished(t0);
        assert_eq!(drain(&mut r), [RecAction::Record]);
    }

    #[test]
    fn wrong_pin_three_times_hangs_up() {
        let t0 = Instant::now();
        let mut r = Recorder::new("1234");
        r.started(t0);
        drain(&mut r);
        assert_eq!(
            keys(&mut r, t0, "9#"),
            [RecAction::Play(vec!["rec-bad-pin", "rec-ask-pin"])]
        );
        assert_eq!(
            keys(&mut r, t0, "#"),
            [RecAction::Play(vec!["rec-bad-pin", "rec-ask-pin"])]
        );
        assert_eq!(
            keys(&mut r, t0, "12345#"),
            [RecAction::Play(vec!["rec-bad-pin"])]
        );
        assert_eq!(keys(&mut r, t0, "1234#"), [], "no more tries");
        r.play_finished(t0);
        assert_eq!(drain(&mut r), [RecAction::Hangup]);
    }

    #[test]
    fn silence_times_out_at_each_question() {
        let t0 = Instant::now();
        let mut r = Recorder::new("1");
        r.started(t0);
        drain(&mut r);
        assert_eq!(r.poll_timeout(), Some(t0 + INPUT_TIMEOUT));
        r.handle_timeout(t0 + INPUT_TIMEOUT - Duration::from_millis(1));
        assert!(drain(&mut r).is_empty(), "not yet");
        // A key restarts the clock.
        let t1 = t0 + Duration::from_secs(5);
        r.digit(t1, '1');
        assert_eq!(r.poll_timeout(), Some(t1 + INPUT_TIMEOUT));
        r.handle_timeout(t1 + INPUT_TIMEOUT);
        assert_eq!(drain(&mut r), [RecAction::Hangup]);
    }

    #[test]
    fn an_empty_recording_is_recorded_again() {
        let t0 = Instant::now();
        let mut r = Recorder::new("1");
        r.started(t0);
        keys(&mut r, t0, "1#");
        r.play_finished(t0);
        keys(&mut r, t0, "#");
        r.recorded(t0, 0);
        assert_eq!(
            drain(&mut r),
            [RecAction::Play(vec!["rec-instructions", "beep"])]
        );
    }
}
