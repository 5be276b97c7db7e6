//! One queue: its waiting tasks in order and, per lane (channel and
//! required skills), the available agents and routable tasks.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{QueueConfig, MAX_LEVEL};
use crate::ids::{AgentId, Channel, TaskId};
use crate::rank::Ranks;
use crate::stats::QueueCounters;
use crate::strategy::AgentKey;

/// Waiting order: priority (higher first), then entry order (a global
/// sequence number, so "first come" also holds across queues), then id.
pub(crate) type TaskKey = (Reverse<i32>, u64, TaskId);

/// Tasks of one channel needing one set of skills.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LaneKey {
    pub channel: Channel,
    pub skills: Arc<BTreeSet<String>>,
}

/// Per level (index `level - 1`): the agents that can take a task of the
/// lane now, and the tasks that may be offered now whose allowed level is
/// that level. Invariant after every input: for each level `l`, if
/// `tasks[l]` is not empty then `agents[0..=l]` are all empty.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    pub agents: [BTreeSet<AgentKey>; MAX_LEVEL as usize],
    pub tasks: [BTreeSet<TaskKey>; MAX_LEVEL as usize],
}

#[derive(Debug)]
pub(crate) struct QueueState {
    pub config: QueueConfig,
    /// Every task of the queue not yet connected (queued, ringing, or
    /// waiting for a retry), for positions.
    pub order: BTreeSet<TaskKey>,
    /// The same tasks, counted for positions in O(log n).
    pub ranks: Ranks,
    pub lanes: HashMap<LaneKey, Lane>,
    pub counters: QueueCounters,
    /// Members logged in (paused ones included).
    pub logged_in: usize,
    /// Moving average of talk + wrap-up.
    pub handle_time: Option<Duration>,
    /// The agent last offered a task (round robin).
    pub last_offered: Option<AgentId>,
}

impl QueueState {
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            order: BTreeSet::new(),
            ranks: Ranks::default(),
            lanes: HashMap::new(),
            counters: QueueCounters::default(),
            logged_in: 0,
            handle_time: None,
            last_offered: None,
        }
    }

    /// Folds one handle time into the moving average (weight 1/5).
    pub fn record_handle(&mut self, handle: Duration) {
        self.handle_time = Some(match self.handle_time {
            None => handle,
            Some(avg) => {
                let avg_n = avg.as_nanos() as i128;
                let next = avg_n + (handle.as_nanos() as i128 - avg_n) / 5;
                Duration::from_nanos(next.clamp(0, u64::MAX as i128) as u64)
            }
        });
    }

    /// `ceil(position / max(1, logged in)) × average handle time`.
    pub fn estimated_wait(&self, position: usize) -> Option<Duration> {
        let rounds = position.div_ceil(self.logged_in.max(1));
        let rounds = u32::try_from(rounds).unwrap_or(u32::MAX);
        self.handle_time.and_then(|h| h.checked_mul(rounds))
    }
}
