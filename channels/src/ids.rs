//! Typed numbers: conversations and the messages in them.

use std::fmt;

/// A conversation, numbered by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConversationId(pub u64);

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conv-{}", self.0)
    }
}

/// A message's place in its conversation: 1, 2, 3… with no gaps, so a
/// client that saw up to `n` asks for what follows `n` after a reconnect
/// and gets nothing twice and nothing lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The time of an input: the monotonic instant (for the flow's logic)
/// and the wall clock in milliseconds since 1970 (what messages show).
/// The crate never reads a clock; the engine (or a test) passes both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic.
    pub mono: std::time::Instant,
    /// Wall clock, Unix milliseconds.
    pub unix_ms: i64,
}
