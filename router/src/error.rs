//! The crate's single error type.

use crate::ids::{AgentId, OfferId, QueueId, TaskId};

/// Why the router refused an input. The router's state is unchanged when
/// an error is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// No queue with this id is configured.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// No agent with this id is configured.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The router does not know this task (never enqueued, or gone).
    #[error("unknown task {0}")]
    UnknownTask(TaskId),
    /// The offer is not live (never made, already answered, failed or
    /// cancelled).
    #[error("unknown or finished offer {0}")]
    UnknownOffer(OfferId),
    /// A task with this id is already in the router.
    #[error("task {0} is already in the router")]
    DuplicateTask(TaskId),
    /// The queue holds `max_waiting` tasks already.
    #[error("queue {0} is full")]
    QueueFull(QueueId),
    /// Nobody is logged in to the queue and it does not accept tasks then.
    #[error("nobody is logged in to queue {0}")]
    NobodyLoggedIn(QueueId),
    /// The agent is not logged in.
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    /// The task is not connected to an agent (needed for transfers).
    #[error("task {0} is not connected to an agent")]
    NotConnected(TaskId),
    /// The agent can't take a task of this channel now (logged out,
    /// paused, unreachable or at capacity).
    #[error("agent {0} can't take the task now")]
    AgentUnavailable(AgentId),
}
