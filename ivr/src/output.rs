//! What a [`crate::Flow`] asks the engine to do, and what it records.

use crate::ids::{MenuId, PlayToken, PromptName, ServiceId};

/// One instruction or record from the flow, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Start playing; answer with `prompt_finished(token)` when it ends.
    Play {
        /// Names this playback.
        token: PlayToken,
        /// What to play.
        prompt: PromptRef,
    },
    /// Stop the playback `token` at once (the caller barged in). A
    /// `prompt_finished` for it afterwards is ignored.
    StopPlay {
        /// The playback to stop.
        token: PlayToken,
    },
    /// Put the call in this service's queue; answer with `queue_result`.
    Enqueue {
        /// The service.
        service: ServiceId,
    },
    /// Hang up; the flow is finished.
    Hangup {
        /// Why.
        cause: HangupCause,
    },
    /// Something for the call record.
    Event(Event),
}

/// What to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptRef {
    /// A prompt from the configuration.
    Configured(PromptName),
    /// One of the engine's built-in prompts (the configuration left it out).
    Builtin(BuiltinPrompt),
    /// A menu: the intro prompt (if any), then each item in order ("para
    /// vendas tecle 1"), rendered by the engine.
    Menu {
        /// Which menu.
        menu: MenuId,
        /// The configured intro prompt.
        intro: Option<PromptName>,
        /// The options, in configured order.
        items: Vec<MenuEntry>,
        /// The operator key, when an operator service is set.
        operator_key: Option<char>,
    },
    /// Text-to-speech of when the number opens again.
    NextOpening {
        /// E.g. "segunda-feira às 8 horas".
        words: String,
    },
}

/// Built-in prompts the engine ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinPrompt {
    /// Welcome message.
    Welcome,
    /// Out of business hours.
    Closed,
    /// Invalid option.
    InvalidOption,
    /// No option entered.
    NoInput,
    /// Nobody could take the call.
    NoAnswer,
    /// The chosen service is out of its hours.
    ServiceClosed,
}

/// One announced menu option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    /// Keys to press.
    pub digits: String,
    /// What it is called.
    pub label: String,
}

/// Why the flow hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupCause {
    /// The number is out of business hours.
    OutOfHours,
    /// Too many invalid or missing inputs (or menu plays).
    MenuFailures,
    /// The queue could not take the call and no fallback service remained.
    QueueUnavailable,
    /// The only service is out of its hours.
    ServiceClosed,
}

/// Why the fallback was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// `max_failures` invalid or missing inputs in a row.
    MaxFailures,
    /// `max_menu_plays` reached.
    MaxMenuPlays,
    /// The queue could not take the call.
    QueueUnavailable,
}

/// What the queue did with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueResult {
    /// An agent took it; the flow is finished.
    Answered,
    /// No agent is logged in.
    NoAgents,
    /// The caller waited longer than the queue allows.
    WaitedTooLong,
}

/// Entries for the call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The schedule decision made at answer time.
    ScheduleDecision {
        /// Whether the number was open.
        open: bool,
    },
    /// A complete option entered in a menu (also the operator key).
    Digits {
        /// The menu.
        menu: MenuId,
        /// The keys.
        digits: String,
    },
    /// The entry matched no option.
    InvalidOption {
        /// The menu.
        menu: MenuId,
        /// The keys (empty for a lone terminator).
        digits: String,
    },
    /// Nothing entered before the timeout.
    NoInput {
        /// The menu.
        menu: MenuId,
    },
    /// The repeat key.
    MenuRepeated {
        /// The menu.
        menu: MenuId,
    },
    /// The back key in a submenu.
    MenuBack {
        /// The submenu left.
        from: MenuId,
        /// The menu returned to.
        to: MenuId,
    },
    /// A service was chosen and is being enqueued.
    ServiceChosen {
        /// The service.
        service: ServiceId,
    },
    /// A chosen service is out of its own hours.
    ServiceClosed {
        /// The service.
        service: ServiceId,
    },
    /// The fallback was taken.
    Fallback {
        /// Why.
        reason: FallbackReason,
    },
    /// The queue reported back.
    Queue {
        /// The service.
        service: ServiceId,
        /// What happened.
        result: QueueResult,
    },
    /// A key that was not acted on (not DTMF, or no menu was listening).
    DigitIgnored {
        /// The key.
        digit: char,
    },
}
