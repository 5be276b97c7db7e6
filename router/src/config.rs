//! Queue and agent settings. Both can be replaced at any time with
//! [`crate::Router::upsert_queue`] / [`crate::Router::upsert_agent`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::ids::{Channel, QueueId, CHANNELS};

/// The highest agent level the router distinguishes; larger levels are
/// treated as this one.
pub const MAX_LEVEL: u8 = 9;

/// How a queue picks the agent for a task when several could take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The agent idle longest on the task's channel (since the end of their
    /// last wrap-up on it, or login). Agents with fewer tasks on the
    /// channel come first (matters for chats).
    #[default]
    LongestIdle,
    /// Agents in turn by id, continuing after the last agent offered a
    /// task from this queue.
    RoundRobin,
    /// Offer to every available agent at once; the first to answer wins.
    RingAll,
    /// The agent who answered the fewest tasks from this queue since the
    /// router started (ties: longest idle).
    FewestCalls,
    /// A random available agent, from the router's seeded generator.
    Random,
    /// Agents by level (1 first); a task may go to level `n + 1` agents
    /// after waiting `n × level_step`. Within a level, longest idle.
    Skills,
}

/// The settings of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// How agents are picked.
    pub strategy: Strategy,
    /// How long an offer rings before it is cancelled as not answered.
    pub ring_timeout: Duration,
    /// How long a task waits after a failed offer before the next one.
    pub retry_delay: Duration,
    /// How long an agent stays in wrap-up after a task of this queue.
    pub wrap_up: Duration,
    /// At most this many tasks wait; `None` for no limit.
    pub max_waiting: Option<usize>,
    /// A task that waited this long leaves with a timeout; `None` for no
    /// limit.
    pub max_wait: Option<Duration>,
    /// Accept tasks while nobody is logged in to the queue.
    pub join_when_empty: bool,
    /// When the last logged-in agent leaves, the waiting tasks leave.
    pub leave_when_empty: bool,
    /// A task answered within this wait counts for the service level.
    pub service_level: Duration,
    /// Announce the position this often while waiting; `None` for never.
    pub announce_interval: Option<Duration>,
    /// For [`Strategy::Skills`]: the wait per level before a task may go to
    /// agents of the next level.
    pub level_step: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::LongestIdle,
            ring_timeout: Duration::from_secs(20),
            retry_delay: Duration::from_secs(5),
            wrap_up: Duration::from_secs(10),
            max_waiting: None,
            max_wait: None,
            join_when_empty: false,
            leave_when_empty: true,
            service_level: Duration::from_secs(20),
            announce_interval: Some(Duration::from_secs(30)),
            level_step: Duration::from_secs(30),
        }
    }
}

impl QueueConfig {
    /// The defaults with another strategy.
    pub fn with_strategy(strategy: Strategy) -> Self {
        Self {
            strategy,
            ..Self::default()
        }
    }
}

/// How many tasks of each channel an agent handles at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity([u32; CHANNELS]);

impl Default for Capacity {
    /// Voice 1, chat 3, e-mail 1, other 1.
    fn default() -> Self {
        let mut caps = [1; CHANNELS];
        caps[Channel::Chat.index()] = 3;
        Self(caps)
    }
}

impl Capacity {
    /// The capacity for `channel`.
    pub fn get(&self, channel: Channel) -> u32 {
        self.0[channel.index()]
    }

    /// Sets the capacity for `channel` (0: never offered that channel).
    pub fn set(&mut self, channel: Channel, tasks: u32) {
        self.0[channel.index()] = tasks;
    }

    /// Builder form of [`Capacity::set`].
    pub fn with(mut self, channel: Channel, tasks: u32) -> Self {
        self.set(channel, tasks);
        self
    }
}

/// The settings of one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Display name.
    pub name: String,
    /// The queues the agent serves, each with a level (1 = best; used by
    /// [`Strategy::Skills`]; 0 is taken as 1).
    pub queues: BTreeMap<QueueId, u8>,
    /// The skills the agent has; a task is offered only to agents with all
    /// its required skills.
    pub skills: BTreeSet<String>,
    /// Tasks at once per channel.
    pub capacity: Capacity,
    /// Pause the agent after this many missed offers in a row; 0 for never.
    pub max_missed: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            queues: BTreeMap::new(),
            skills: BTreeSet::new(),
            capacity: Capacity::default(),
            max_missed: 3,
        }
    }
}

impl AgentConfig {
    /// An agent serving `queues`, each at level 1, with default settings.
    pub fn in_queues(name: impl Into<String>, queues: impl IntoIterator<Item = QueueId>) -> Self {
        Self {
            name: name.into(),
            queues: queues.into_iter().map(|q| (q, 1)).collect(),
            ..Self::default()
        }
    }

    /// Adds (or changes) a queue with a level.
    pub fn with_queue(mut self, queue: QueueId, level: u8) -> Self {
        self.queues.insert(queue, level);
        self
    }

    /// Adds a skill.
    pub fn with_skill(mut self, skill: impl Into<String>) -> Self {
        self.skills.insert(skill.into());
        self
    }
}
