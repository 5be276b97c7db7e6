//! Agents: their state as seen from outside and the router's bookkeeping.

use std::collections::HashMap;
use std::time::Instant;

use crate::config::{AgentConfig, MAX_LEVEL};
use crate::ids::{AgentId, Channel, OfferId, QueueId, CHANNELS};
use crate::queue::LaneKey;
use crate::strategy::AgentKey;

/// The pause reason used after too many missed offers in a row.
pub const MISSED_CALLS: &str = "missed calls";

/// An agent's state as shown to supervisors. When several apply, the first
/// in this order wins: logged out, paused, ringing, busy, wrap-up,
/// available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not logged in.
    LoggedOut,
    /// Logged in, takes tasks (on the channels where reachable and below
    /// capacity).
    Available,
    /// An offer is ringing.
    Ringing,
    /// On at least one task.
    Busy,
    /// In wrap-up after a task.
    WrapUp,
    /// Logged in but not taking tasks.
    Paused(String),
}

/// Counters of one agent since the router started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounters {
    /// Offers made.
    pub offers: u64,
    /// Offers answered.
    pub answered: u64,
    /// Offers missed (no answer, busy, declined).
    pub missed: u64,
}

/// One wrap-up period.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrapUp {
    pub id: u64,
    pub channel: Channel,
    pub queue: QueueId,
    pub until: Instant,
    /// When the agent answered the task (for the handle time).
    pub answered_at: Instant,
}

/// Where an agent sits in a lane's set of available agents.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub queue: QueueId,
    pub lane: LaneKey,
    pub level: u8,
    pub key: AgentKey,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub id: AgentId,
    pub config: AgentConfig,
    pub logged_in: bool,
    pub paused: Option<String>,
    pub reachable: [bool; CHANNELS],
    pub active: [u32; CHANNELS],
    pub ringing: [u32; CHANNELS],
    pub wrapups: Vec<WrapUp>,
    /// Per channel: end of the last wrap-up, or login.
    pub idle_since: [Option<Instant>; CHANNELS],
    pub missed_in_row: u32,
    pub answered_in: HashMap<QueueId, u64>,
    pub counters: AgentCounters,
    /// The state last reported with `Output::AgentState`.
    pub reported: AgentState,
    pub memberships: Vec<Membership>,
    /// Live offers to this agent.
    pub offers: Vec<OfferId>,
}

impl Agent {
    pub fn new(id: AgentId, config: AgentConfig) -> Self {
        Self {
            id,
            config,
            logged_in: false,
            paused: None,
            reachable: [true; CHANNELS],
            active: [0; CHANNELS],
            ringing: [0; CHANNELS],
            wrapups: Vec::new(),
            idle_since: [None; CHANNELS],
            missed_in_row: 0,
            answered_in: HashMap::new(),
            counters: AgentCounters::default(),
            reported: AgentState::LoggedOut,
            memberships: Vec::new(),
            offers: Vec::new(),
        }
    }

    pub fn wrapping(&self, channel: Channel) -> u32 {
        self.wrapups.iter().filter(|w| w.channel == channel).count() as u32
    }

    /// Tasks on the channel: connected, ringing and in wrap-up.
    pub fn load(&self, channel: Channel) -> u32 {
        let i = channel.index();
        self.active[i] + self.ringing[i] + self.wrapping(channel)
    }

    /// Whether a new task of `channel` may be offered now.
    pub fn can_take(&self, channel: Channel) -> bool {
        self.logged_in
            && self.paused.is_none()
            && self.reachable[channel.index()]
            && self.load(channel) < self.config.capacity.get(channel)
    }

    pub fn has_skills(&self, required: &std::collections::BTreeSet<String>) -> bool {
        required.is_subset(&self.config.skills)
    }

    /// The agent's level in `queue` (1..=MAX_LEVEL), if a member.
    pub fn level_in(&self, queue: QueueId) -> Option<u8> {
        self.config
            .queues
            .get(&queue)
            .map(|l| (*l).clamp(1, MAX_LEVEL))
    }

    pub fn state(&self) -> AgentState {
        if !self.logged_in {
            return AgentState::LoggedOut;
        }
        if let Some(reason) = &self.paused {
            return AgentState::Paused(reason.clone());
        }
        if self.ringing.iter().any(|n| *n > 0) {
            AgentState::Ringing
        } else if self.active.iter().any(|n| *n > 0) {
            AgentState::Busy
        } else if !self.wrapups.is_empty() {
            AgentState::WrapUp
        } else {
            AgentState::Available
        }
    }
}
