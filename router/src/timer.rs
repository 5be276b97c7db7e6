//! The timer heap: entries are never removed, only found stale when they
//! come up (each kind checks that what it refers to is still current).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::ids::{AgentId, OfferId, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKey {
    /// The offer rang for the ring timeout.
    Ring(OfferId),
    /// The task's retry delay ended.
    Retry(TaskId),
    /// The agent's wrap-up with this id ended.
    WrapUp(AgentId, u64),
    /// Announce the position (task, epoch).
    Announce(TaskId, u64),
    /// The task waited the max wait (task, epoch).
    MaxWait(TaskId, u64),
    /// The task may go to the next level (task, epoch, current level).
    LevelUp(TaskId, u64, u8),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, TimerKey)>>,
    seq: u64,
}

impl Timers {
    /// Arms `key` for `at`; equal instants fire in arming order.
    pub fn arm(&mut self, at: Instant, key: TimerKey) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, key)));
    }

    pub fn next(&self) -> Option<(Instant, TimerKey)> {
        self.heap.peek().map(|Reverse((at, _, key))| (*at, *key))
    }

    /// The arming number of the next timer.
    pub fn next_seq(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((_, seq, _))| *seq)
    }

    /// How many timers were armed so far (the last arming number).
    pub fn armed(&self) -> u64 {
        self.seq
    }

    pub fn pop(&mut self) {
        self.heap.pop();
    }
}
