//! Tasks as the router tracks them.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Instant;

use crate::ids::{AgentId, Channel, OfferId, QueueId, TaskId};
use crate::queue::{LaneKey, TaskKey};

/// A new task for [`crate::Router::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// Chosen by the engine; must not be in the router already.
    pub id: TaskId,
    /// The queue to wait in.
    pub queue: QueueId,
    /// The media.
    pub channel: Channel,
    /// Higher first; equal priorities are served first come, first served.
    pub priority: i32,
    /// Skills an agent must all have to be offered the task.
    pub required_skills: BTreeSet<String>,
}

impl TaskSpec {
    /// A task with priority 0 and no required skills.
    pub fn new(id: TaskId, queue: QueueId, channel: Channel) -> Self {
        Self {
            id,
            queue,
            channel,
            priority: 0,
            required_skills: BTreeSet::new(),
        }
    }

    /// With a priority.
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// With a required skill.
    pub fn with_skill(mut self, skill: impl Into<String>) -> Self {
        self.required_skills.insert(skill.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// In no set and not ringing: about to be routed.
    Parked,
    /// In its lane's routable set for `Task::level`.
    Queued,
    /// Offers are ringing (several with ring all).
    Ringing(Vec<OfferId>),
    /// After a failed offer, until the retry delay has passed.
    Cooling { until: Instant },
    /// Answered.
    Connected {
        agent: AgentId,
        answered_at: Instant,
    },
}

#[derive(Debug)]
pub(crate) struct Task {
    pub id: TaskId,
    pub queue: QueueId,
    pub lane: LaneKey,
    pub priority: i32,
    pub enqueued_at: Instant,
    /// A global sequence number given at every queue entry: the waiting
    /// order within a priority; timers of older entries are stale.
    pub epoch: u64,
    /// The entry's slot in its queue's [`crate::rank::Ranks`].
    pub slot: usize,
    /// Highest agent level allowed (skills strategy), 1..=MAX_LEVEL.
    pub level: u8,
    /// The agent of the last failed offer; others are preferred.
    pub avoid: Option<AgentId>,
    pub state: TaskState,
}

impl Task {
    pub fn key(&self) -> TaskKey {
        (Reverse(self.priority), self.epoch, self.id)
    }

    pub fn channel(&self) -> Channel {
        self.lane.channel
    }
}
