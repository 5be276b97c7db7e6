//! One call through the IVR, as a sans-I/O state machine.
//!
//! Feed it events with the current [`Instant`] (it never reads a clock),
//! drain [`Flow::poll_output`] after each, and call [`Flow::handle_timeout`]
//! once [`Flow::poll_timeout`] has passed.
//!
//! Behaviour where the product text is silent:
//! - Keys during the welcome barge into the top menu when the number is
//!   open and has a menu (type-ahead, as Asterisk's Background does), unless
//!   `welcome_barge_in = false`. Keys during the closed, next-opening and
//!   no-answer prompts (and a welcome that cannot be skipped) are ignored
//!   (recorded as `DigitIgnored`); keys during a menu prompt or
//!   during the invalid-option, no-input and service-closed prompts that
//!   return to a menu barge in: `StopPlay`, then the key counts as the
//!   first key of that menu.
//! - An option completes as soon as the keys match it and no longer option
//!   starts with them; otherwise it waits for the inter-digit timeout or
//!   the terminator. Keys that no option starts with are invalid at once.
//! - A lone terminator counts as no input.
//! - The failure that reaches `max_failures` still plays its prompt, then
//!   the fallback runs. Failures reset when the caller moves to another
//!   menu. `max_menu_plays` bounds repeats and menu cycles.
//! - Choosing a closed service plays the service-closed prompt and returns
//!   to the same menu (not a failure). With a single service and no menu,
//!   it plays that prompt and hangs up.
//! - After a queue failure the no-answer prompt plays, then the fallback
//!   service if it is set, open and not tried yet, else hang up.

use std::collections::{BTreeSet, VecDeque};
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{is_dtmf, Fallback, Ivr, Target, MAX_OPTION_DIGITS};
use crate::decision::{Decision, Hours};
use crate::ids::{MenuId, PlayToken, PromptName, ServiceId};
use crate::output::{
    BuiltinPrompt, Event, FallbackReason, HangupCause, MenuEntry, Output, PromptRef, QueueResult,
};

/// Keys a text entry may have (an option, with room for the back and
/// operator keys).
const MAX_TEXT_KEYS: usize = MAX_OPTION_DIGITS + 1;

/// The IVR flow of one call.
#[derive(Debug)]
pub struct Flow {
    ivr: Arc<Ivr>,
    decision: Decision,
    state: State,
    out: VecDeque<Output>,
    next_token: u64,
    /// Failed inputs in a row in the current menu.
    failures: u32,
    menu_plays: u32,
    /// Menus to return to with the back key.
    stack: Vec<MenuId>,
    tried: BTreeSet<ServiceId>,
}

#[derive(Debug)]
enum State {
    /// Not answered yet.
    Idle,
    Playing {
        token: PlayToken,
        then: Then,
        /// The menu a key would barge into.
        barge: Option<MenuId>,
    },
    Collecting {
        menu: MenuId,
        keys: String,
        deadline: Instant,
    },
    Queued {
        service: ServiceId,
    },
    Done,
}

/// What follows the prompt now playing.
#[derive(Debug)]
enum Then {
    Welcome,
    Closed,
    Hangup(HangupCause),
    /// Collect keys for this menu (after its prompt).
    Collect(MenuId),
    /// Play this menu again (after a notice).
    Menu(MenuId),
    Fallback(FallbackReason),
    /// After the no-answer prompt that follows a queue failure.
    AfterQueue,
}

/// `now + wait`, or `now` if that is not representable (never panics).
fn later(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait).unwrap_or(now)
}

fn prompt(configured: &Option<PromptName>, builtin: BuiltinPrompt) -> PromptRef {
    match configured {
        Some(name) => PromptRef::Configured(name.clone()),
        None => PromptRef::Builtin(builtin),
    }
}

impl Flow {
    /// A flow for a call, with the schedule decision taken at answer time.
    pub fn new(ivr: Arc<Ivr>, decision: Decision) -> Self {
        Self {
            ivr,
            decision,
            state: State::Idle,
            out: VecDeque::new(),
            next_token: 0,
            failures: 0,
            menu_plays: 0,
            stack: Vec::new(),
            tried: BTreeSet::new(),
        }
    }

    /// The call was answered: record the decision and play the welcome.
    pub fn answered(&mut self, _now: Instant) {
        if !matches!(self.state, State::Idle) {
            return;
        }
        self.event(Event::ScheduleDecision {
            open: self.decision.is_open(),
        });
        let welcome = prompt(&self.ivr.config().welcome, BuiltinPrompt::Welcome);
        // Type-ahead into the top menu, when the welcome leads to it.
        let barge = (self.ivr.config().welcome_barge_in
            && self.decision.is_open()
            && self.ivr.single_service().is_none())
        .then(MenuId::root);
        self.play(welcome, Then::Welcome, barge);
    }

    /// The playback `token` ended. Stale tokens are ignored.
    pub fn prompt_finished(&mut self, now: Instant, token: PlayToken) {
        let State::Playing { token: current, .. } = &self.state else {
            return;
        };
        if *current != token {
            return;
        }
        if let State::Playing { then, .. } = mem::replace(&mut self.state, State::Done) {
            self.after_prompt(now, then);
        }
    }

    /// The caller pressed a key (`0-9 * # A-D`; lower-case `a-d` accepted).
    pub fn digit(&mut self, now: Instant, digit: char) {
        let key = digit.to_ascii_uppercase();
        if !is_dtmf(key) {
            self.event(Event::DigitIgnored { digit });
            return;
        }
        match mem::replace(&mut self.state, State::Done) {
            State::Playing {
                token,
                barge: Some(menu),
                ..
            } => {
                self.out.push_back(Output::StopPlay { token });
                self.key(now, menu, String::new(), key);
            }
            State::Collecting { menu, keys, .. } => self.key(now, menu, keys, key),
            other => {
                self.state = other;
                self.event(Event::DigitIgnored { digit });
            }
        }
    }

    /// A whole entry at once, as a text channel sends it (a chat message):
    /// the keys of an option (`"1"`, `"12"`), or an option's label in any
    /// case (`"Vendas"`), then the end of the entry, as if the terminator
    /// followed. Anything else (`"oi"`) is an invalid option of the menu
    /// (empty text: no input). The same menu logic as keys: retries,
    /// failures, the fallback, the back and operator keys. Ignored when
    /// the flow is not waiting for an option (recorded as `DigitIgnored`
    /// for each key).
    pub fn text_entry(&mut self, now: Instant, text: &str) {
        let text = text.trim();
        let menu = match &self.state {
            State::Collecting { menu, keys, .. } if keys.is_empty() => menu.clone(),
            State::Playing {
                barge: Some(menu), ..
            } => menu.clone(),
            _ => {
                for digit in text.chars().take(MAX_TEXT_KEYS) {
                    self.event(Event::DigitIgnored { digit });
                }
                return;
            }
        };
        if let State::Playing { token, .. } = &self.state {
            self.out.push_back(Output::StopPlay { token: *token });
        }
        let ivr = Arc::clone(&self.ivr);
        let by_label = ivr.menu(&menu).and_then(|m| {
            m.items
                .iter()
                .find(|i| !text.is_empty() && i.label.to_lowercase() == text.to_lowercase())
                .map(|i| i.digits.clone())
        });
        let keys: String = by_label.unwrap_or_else(|| text.to_ascii_uppercase());
        if keys.is_empty() {
            self.state = State::Done;
            self.no_input(menu);
            return;
        }
        if keys.chars().count() > MAX_TEXT_KEYS || !keys.chars().all(is_dtmf) {
            self.state = State::Done;
            self.invalid(menu, text.chars().take(MAX_TEXT_KEYS).collect());
            return;
        }
        self.state = State::Collecting {
            menu,
            keys: String::new(),
            deadline: now,
        };
        let terminator = ivr.config().keys.terminator;
        for key in keys.chars() {
            let State::Collecting { .. } = &self.state else {
                // The entry was acted on (chosen, refused): the rest of
                // the text is not keys any more.
                return;
            };
            if let State::Collecting { menu, keys, .. } = mem::replace(&mut self.state, State::Done)
            {
                self.key(now, menu, keys, key);
            }
        }
        if !matches!(self.state, State::Collecting { .. }) {
            return;
        }
        if let State::Collecting { menu, keys, .. } = mem::replace(&mut self.state, State::Done) {
            if keys.is_empty() {
                // Only special keys that wait for more (none today).
                self.no_input(menu);
            } else {
                self.key(now, menu, keys, terminator);
            }
        }
    }

    /// Call when [`Flow::poll_timeout`] has passed; early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let State::Collecting { deadline, .. } = &self.state else {
            return;
        };
        if now < *deadline {
            return;
        }
        if !matches!(self.state, State::Collecting { .. }) {
            return;
        }
        if let State::Collecting { menu, keys, .. } = mem::replace(&mut self.state, State::Done) {
            if keys.is_empty() {
                self.no_input(menu);
            } else {
                self.complete(now, menu, keys);
            }
        }
    }

    /// The queue reported on the enqueued call.
    pub fn queue_result(&mut self, _now: Instant, result: QueueResult) {
        if !matches!(self.state, State::Queued { .. }) {
            return;
        }
        let State::Queued { service } = mem::replace(&mut self.state, State::Done) else {
            return;
        };
        self.event(Event::Queue { service, result });
        match result {
            QueueResult::Answered => {}
            QueueResult::NoAgents | QueueResult::WaitedTooLong => {
                let no_answer = prompt(&self.ivr.config().no_answer, BuiltinPrompt::NoAnswer);
                self.play(no_answer, Then::AfterQueue, None);
            }
        }
    }

    /// The next instruction, if any; call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Flow::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Collecting { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// Whether the flow has nothing more to do (hung up, or an agent took
    /// the call).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn play(&mut self, prompt: PromptRef, then: Then, barge: Option<MenuId>) {
        self.next_token += 1;
        let token = PlayToken(self.next_token);
        self.out.push_back(Output::Play { token, prompt });
        self.state = State::Playing { token, then, barge };
    }

    fn hangup(&mut self, cause: HangupCause) {
        self.out.push_back(Output::Hangup { cause });
        self.state = State::Done;
    }

    fn after_prompt(&mut self, now: Instant, then: Then) {
        match then {
            Then::Welcome => self.after_welcome(),
            Then::Closed => {
                let words = match &self.decision.hours {
                    Hours::Closed {
                        next_opening: Some(words),
                    } if self.ivr.config().say_next_opening => Some(words.clone()),
                    _ => None,
                };
                match words {
                    Some(words) => self.play(
                        PromptRef::NextOpening { words },
                        Then::Hangup(HangupCause::OutOfHours),
                        None,
                    ),
                    None => self.hangup(HangupCause::OutOfHours),
                }
            }
            Then::Hangup(cause) => self.hangup(cause),
            Then::Collect(menu) => {
                self.state = State::Collecting {
                    menu,
                    keys: String::new(),
                    deadline: later(now, self.ivr.first_digit_timeout()),
                };
            }
            Then::Menu(menu) => self.play_menu(menu),
            Then::Fallback(reason) => self.fallback(reason),
            Then::AfterQueue => match self.fallback_service() {
                Some(service) => {
                    self.event(Event::Fallback {
                        reason: FallbackReason::QueueUnavailable,
                    });
                    self.enqueue(service);
                }
                None => self.hangup(HangupCause::QueueUnavailable),
            },
        }
    }

    fn after_welcome(&mut self) {
        if !self.decision.is_open() {
            let closed = prompt(&self.ivr.config().closed, BuiltinPrompt::Closed);
            self.play(closed, Then::Closed, None);
            return;
        }
        match self.ivr.single_service().cloned() {
            Some(service) if self.decision.closed_services.contains(&service) => {
                self.event(Event::ServiceClosed { service });
                let closed = prompt(
                    &self.ivr.config().service_closed,
                    BuiltinPrompt::ServiceClosed,
                );
                self.play(closed, Then::Hangup(HangupCause::ServiceClosed), None);
            }
            Some(service) => self.enqueue(service),
            None => self.play_menu(MenuId::root()),
        }
    }

    fn play_menu(&mut self, menu: MenuId) {
        let ivr = Arc::clone(&self.ivr);
        let Some(config) = ivr.menu(&menu) else {
            // Unreachable for a validated Ivr; end the call sanely anyway.
            self.fallback(FallbackReason::MaxFailures);
            return;
        };
        if self.menu_plays >= ivr.config().max_menu_plays {
            self.fallback(FallbackReason::MaxMenuPlays);
            return;
        }
        self.menu_plays += 1;
        let prompt = PromptRef::Menu {
            menu: menu.clone(),
            intro: config.prompt.clone(),
            items: config
                .items
                .iter()
                .map(|item| MenuEntry {
                    digits: item.digits.clone(),
                    label: item.label.clone(),
                })
                .collect(),
            operator_key: ivr
                .config()
                .operator
                .as_ref()
                .map(|_| ivr.config().keys.operator),
        };
        self.play(prompt, Then::Collect(menu.clone()), Some(menu));
    }

    /// One key while collecting for `menu`, with `keys` entered so far.
    fn key(&mut self, now: Instant, menu: MenuId, mut keys: String, key: char) {
        let ivr = Arc::clone(&self.ivr);
        let special = ivr.config().keys;
        if keys.is_empty() {
            if key == special.back && !menu.is_root() {
                if let Some(parent) = self.stack.pop() {
                    self.event(Event::MenuBack {
                        from: menu,
                        to: parent.clone(),
                    });
                    self.failures = 0;
                    self.play_menu(parent);
                    return;
                }
            }
            if key == special.repeat || key == special.back {
                self.event(Event::MenuRepeated { menu: menu.clone() });
                self.play_menu(menu);
                return;
            }
            if key == special.operator {
                if let Some(operator) = ivr.config().operator.clone() {
                    self.event(Event::Digits {
                        menu: menu.clone(),
                        digits: key.to_string(),
                    });
                    self.choose_service(menu, operator);
                    return;
                }
            }
            if key == special.terminator {
                self.no_input(menu);
                return;
            }
        } else if key == special.terminator {
            self.complete(now, menu, keys);
            return;
        }
        keys.push(key);
        let items = ivr.menu(&menu).map(|m| m.items.as_slice()).unwrap_or(&[]);
        let exact = items.iter().any(|i| i.digits == keys);
        let longer = items
            .iter()
            .any(|i| i.digits.len() > keys.len() && i.digits.starts_with(&keys));
        if longer {
            self.state = State::Collecting {
                menu,
                keys,
                deadline: later(now, ivr.inter_digit_timeout()),
            };
        } else if exact {
            self.complete(now, menu, keys);
        } else {
            self.invalid(menu, keys);
        }
    }

    /// The entry is over: act on the option it names, or fail.
    fn complete(&mut self, _now: Instant, menu: MenuId, keys: String) {
        let ivr = Arc::clone(&self.ivr);
        let target = ivr
            .menu(&menu)
            .and_then(|m| m.items.iter().find(|i| i.digits == keys))
            .map(|i| i.target.clone());
        let Some(target) = target else {
            self.invalid(menu, keys);
            return;
        };
        self.event(Event::Digits {
            menu: menu.clone(),
            digits: keys,
        });
        match target {
            Target::Service(service) => self.choose_service(menu, service),
            Target::Menu(next) => {
                self.stack.push(menu);
                self.failures = 0;
                self.play_menu(next);
            }
        }
    }

    fn choose_service(&mut self, menu: MenuId, service: ServiceId) {
        if self.decision.closed_services.contains(&service) {
            self.event(Event::ServiceClosed { service });
            let closed = prompt(
                &self.ivr.config().service_closed,
                BuiltinPrompt::ServiceClosed,
            );
            self.play(closed, Then::Menu(menu.clone()), Some(menu));
        } else {
            self.enqueue(service);
        }
    }

    fn enqueue(&mut self, service: ServiceId) {
        self.event(Event::ServiceChosen {
            service: service.clone(),
        });
        self.out.push_back(Output::Enqueue {
            service: service.clone(),
        });
        self.tried.insert(service.clone());
        self.state = State::Queued { service };
    }

    fn invalid(&mut self, menu: MenuId, keys: String) {
        self.event(Event::InvalidOption {
            menu: menu.clone(),
            digits: keys,
        });
        let notice = prompt(
            &self.ivr.config().invalid_option,
            BuiltinPrompt::InvalidOption,
        );
        self.failed(menu, notice);
    }

    fn no_input(&mut self, menu: MenuId) {
        self.event(Event::NoInput { menu: menu.clone() });
        let notice = prompt(&self.ivr.config().no_input, BuiltinPrompt::NoInput);
        self.failed(menu, notice);
    }

    fn failed(&mut self, menu: MenuId, notice: PromptRef) {
        self.failures += 1;
        if self.failures >= self.ivr.config().max_failures {
            self.play(notice, Then::Fallback(FallbackReason::MaxFailures), None);
        } else {
            self.play(notice, Then::Menu(menu.clone()), Some(menu));
        }
    }

    /// The configured fallback service, if it is open and was not tried.
    fn fallback_service(&self) -> Option<ServiceId> {
        match &self.ivr.config().fallback {
            Fallback::Service(s)
                if !self.decision.closed_services.contains(s) && !self.tried.contains(s) =>
            {
                Some(s.clone())
            }
            _ => None,
        }
    }

    fn fallback(&mut self, reason: FallbackReason) {
        self.event(Event::Fallback { reason });
        match self.fallback_service() {
            Some(service) => self.enqueue(service),
            None => {
                let no_answer = prompt(&self.ivr.config().no_answer, BuiltinPrompt::NoAnswer);
                self.play(no_answer, Then::Hangup(HangupCause::MenuFailures), None);
            }
        }
    }
}
