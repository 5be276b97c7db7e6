//! The demo numbers ura serves with no configuration.
//!
//! - `9000`: digit echo. Answers, plays a welcome, then speaks back each
//!   digit pressed ("um", "dois", …); `#` says goodbye and hangs up.
//! - `9100`: answers and loops a prompt until the caller hangs up (the load
//!   number of `benches/`, comparable with the peers in PEERS.md).
//!
//! Each app is a small sans-I/O state machine: events in, actions out.

/// Which demo app a dialled number reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoNumber {
    /// 9000: digit echo.
    Echo,
    /// 9100: endless prompt.
    Loop,
}

impl DemoNumber {
    /// The app for a dialled number (user part of the Request-URI).
    pub fn lookup(number: &str) -> Option<DemoNumber> {
        match number {
            "9000" => Some(DemoNumber::Echo),
            "9100" => Some(DemoNumber::Loop),
            _ => None,
        }
    }
}

/// What an app wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play a built-in prompt: interrupt what plays (`barge`) or queue it.
    Play {
        /// Built-in prompt name.
        prompt: String,
        /// Stop what plays first.
        barge: bool,
        /// Loop until stopped.
        looped: bool,
    },
    /// Hang up (BYE).
    Hangup,
}

/// State of a demo call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoApp {
    number: DemoNumber,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Welcome,
    Echoing,
    Goodbye,
}

impl DemoApp {
    /// A new app for a call to `number`.
    pub fn new(number: DemoNumber) -> DemoApp {
        DemoApp {
            number,
            phase: Phase::Waiting,
        }
    }

    /// The call is up (ACK received).
    pub fn started(&mut self) -> Vec<Action> {
        self.phase = Phase::Welcome;
        let looped = self.number == DemoNumber::Loop;
        vec![Action::Play {
            prompt: "echo-welcome".into(),
            barge: true,
            looped,
        }]
    }

    /// The caller pressed a key.
    pub fn digit(&mut self, key: char) -> Vec<Action> {
        if self.number != DemoNumber::Echo || matches!(self.phase, Phase::Goodbye | Phase::Waiting)
        {
            return Vec::new();
        }
        if key == '#' {
            self.phase = Phase::Goodbye;
            return vec![Action::Play {
                prompt: "goodbye".into(),
                barge: true,
                looped: false,
            }];
        }
        let name = match key {
            '*' => "digit-star".to_string(),
            c => format!("digit-{c}"),
        };
        // A digit during the welcome stops it; later digits queue up.
        let barge = self.phase == Phase::Welcome;
        self.phase = Phase::Echoing;
        vec![Action::Play {
            prompt: name,
            barge,
            looped: false,
        }]
    }

    /// A prompt finished playing to its end.
    pub fn play_finished(&mut self) -> Vec<Action> {
        if self.phase == Phase::Goodbye {
            return vec![Action::Hangup];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(p: &str, barge: bool) -> Action {
        Action::Play {
            prompt: p.into(),
            barge,
            looped: false,
        }
    }

    #[test]
    fn echo_speaks_digits_and_hangs_up_after_goodbye() {
        let mut app = DemoApp::new(DemoNumber::lookup("9000").unwrap());
        assert_eq!(app.digit('1'), vec![], "nothing before the call is up");
        assert_eq!(app.started(), vec![play("echo-welcome", true)]);
        assert_eq!(
            app.digit('1'),
            vec![play("digit-1", true)],
            "barge-in on the welcome"
        );
        assert_eq!(app.digit('*'), vec![play("digit-star", false)], "queued");
        assert_eq!(app.play_finished(), vec![]);
        assert_eq!(app.digit('#'), vec![play("goodbye", true)]);
        assert_eq!(app.digit('5'), vec![], "ignored while saying goodbye");
        assert_eq!(app.play_finished(), vec![Action::Hangup]);
    }

    #[test]
    fn loop_number_loops_and_ignores_digits() {
        let mut app = DemoApp::new(DemoNumber::lookup("9100").unwrap());
        assert_eq!(
            app.started(),
            vec![Action::Play {
                prompt: "echo-welcome".into(),
                barge: true,
                looped: true
            }]
        );
        assert!(app.digit('#').is_empty());
        assert_eq!(DemoNumber::lookup("1234"), None);
    }
}
