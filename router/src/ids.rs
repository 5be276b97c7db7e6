//! Typed identifiers, so an agent can't be passed where a queue is expected.

use std::fmt;

macro_rules! num_id {
    ($(#[$doc:meta])* $name:ident($ty:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $ty);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

num_id!(
    /// An agent, numbered by the engine (which maps names to numbers).
    AgentId(u32)
);
num_id!(
    /// A queue, numbered by the engine.
    QueueId(u32)
);
num_id!(
    /// A task (a call, a chat, ...), numbered by the engine; unique while
    /// the router knows the task.
    TaskId(u64)
);
num_id!(
    /// One offer of a task to an agent, numbered by the router.
    OfferId(u64)
);

/// The media of a task. Each channel has its own capacity per agent.
///
/// To add a channel: add a variant, list it in [`Channel::ALL`] and give it
/// an index and a default capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// A phone call.
    Voice,
    /// A web chat.
    Chat,
    /// An e-mail.
    Email,
    /// Anything else (e.g. a callback request).
    Other,
}

/// How many channels there are.
pub const CHANNELS: usize = 4;

impl Channel {
    /// Every channel, in index order.
    pub const ALL: [Channel; CHANNELS] = [
        Channel::Voice,
        Channel::Chat,
        Channel::Email,
        Channel::Other,
    ];

    /// A dense index `0..CHANNELS`.
    pub fn index(self) -> usize {
        match self {
            Channel::Voice => 0,
            Channel::Chat => 1,
            Channel::Email => 2,
            Channel::Other => 3,
        }
    }
}
