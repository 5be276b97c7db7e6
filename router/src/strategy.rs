//! How each strategy orders the available agents of a lane, and how it
//! picks one.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::time::Instant;

use crate::agent::Agent;
use crate::config::Strategy;
use crate::ids::{AgentId, Channel, QueueId};

/// The sort key of an available agent in a lane; the smallest key is the
/// strategy's first choice (round robin starts after the last one used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AgentKey {
    pub primary: u64,
    pub secondary: u64,
    pub idle_since: Option<Instant>,
    pub agent: AgentId,
}

impl AgentKey {
    fn round_robin(agent: AgentId) -> Self {
        Self {
            primary: 0,
            secondary: 0,
            idle_since: None,
            agent,
        }
    }
}

/// The key of `agent` for tasks of `channel` in `queue`.
pub(crate) fn key(
    strategy: Strategy,
    agent: &Agent,
    queue: QueueId,
    channel: Channel,
    rng: &mut fastrand::Rng,
) -> AgentKey {
    let load = u64::from(agent.load(channel));
    let idle_since = agent.idle_since[channel.index()];
    match strategy {
        Strategy::LongestIdle | Strategy::Skills | Strategy::RingAll => AgentKey {
            primary: load,
            secondary: 0,
            idle_since,
            agent: agent.id,
        },
        Strategy::FewestCalls => AgentKey {
            primary: agent.answered_in.get(&queue).copied().unwrap_or(0),
            secondary: load,
            idle_since,
            agent: agent.id,
        },
        Strategy::RoundRobin => AgentKey::round_robin(agent.id),
        // A fresh random key each time the agent is (re)indexed: the
        // smallest of independent uniform keys is a uniform pick.
        Strategy::Random => AgentKey {
            primary: rng.u64(..),
            secondary: 0,
            idle_since: None,
            agent: agent.id,
        },
    }
}

/// The strategy's choice among `agents`, skipping `exclude`. Looks at two
/// keys at most (never scans the set).
pub(crate) fn pick(
    agents: &BTreeSet<AgentKey>,
    strategy: Strategy,
    last: Option<AgentId>,
    exclude: Option<AgentId>,
) -> Option<AgentId> {
    let ok = |k: &&AgentKey| Some(k.agent) != exclude;
    let found = match (strategy, last) {
        (Strategy::RoundRobin, Some(last)) => agents
            .range((
                Bound::Excluded(AgentKey::round_robin(last)),
                Bound::Unbounded,
            ))
            .find(ok)
            .or_else(|| agents.iter().find(ok)),
        _ => agents.iter().find(ok),
    };
    found.map(|k| k.agent)
}
