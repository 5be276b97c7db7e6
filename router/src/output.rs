//! What the router asks the engine to do, in order.

use std::time::Duration;

use crate::agent::AgentState;
use crate::ids::{AgentId, Channel, OfferId, QueueId, TaskId};

/// One decision for the engine. Drain them with
/// [`crate::Router::poll_output`] after every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Ring the agent with the task; answer with `offer_accepted` or
    /// `offer_failed`.
    Offer {
        /// Names this offer.
        offer: OfferId,
        /// The task.
        task: TaskId,
        /// The agent to ring.
        agent: AgentId,
        /// The task's channel.
        channel: Channel,
    },
    /// Stop ringing (e.g. send CANCEL); the offer is over.
    OfferCancelled {
        /// The offer.
        offer: OfferId,
        /// Its task.
        task: TaskId,
        /// Its agent.
        agent: AgentId,
        /// Why.
        reason: CancelReason,
    },
    /// Connect the task to the agent (the agent answered the offer).
    TaskAssigned {
        /// The task.
        task: TaskId,
        /// The agent.
        agent: AgentId,
        /// The queue it was answered from.
        queue: QueueId,
    },
    /// The task left its queue without an agent; the router forgot it.
    TaskLeft {
        /// The task.
        task: TaskId,
        /// The queue it left.
        queue: QueueId,
        /// Why.
        reason: LeaveReason,
    },
    /// Tell the waiting party their position.
    Announce {
        /// The task.
        task: TaskId,
        /// 1 = next.
        position: usize,
        /// Estimated wait, once the queue has handled a task.
        estimated_wait: Option<Duration>,
    },
    /// The agent's state as shown to supervisors changed.
    AgentState {
        /// The agent.
        agent: AgentId,
        /// The new state.
        state: AgentState,
    },
}

/// Why an offer was cancelled by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// It rang for the queue's ring timeout.
    NoAnswer,
    /// The task's party hung up.
    Abandoned,
    /// Another agent answered the same task (ring all).
    AnsweredElsewhere,
    /// The task left the queue (max wait, nobody logged in).
    TaskLeft,
    /// The agent logged out.
    AgentLoggedOut,
    /// The agent became unreachable on the channel.
    AgentUnreachable,
}

/// Why a task left without being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The party hung up (or `task_ended` for a task not connected).
    Abandoned,
    /// It waited the queue's `max_wait`.
    Timeout,
    /// The last agent logged out and the queue has `leave_when_empty`.
    NobodyLoggedIn,
}

/// Why the engine could not complete an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferFailure {
    /// It rang and nobody answered (the engine's own timer). A miss.
    NoAnswer,
    /// The agent's device was busy. A miss.
    Busy,
    /// The agent rejected it. A miss.
    Declined,
    /// The agent's device could not be reached. Not a miss: the agent is
    /// marked unreachable on the channel instead.
    Unreachable,
}
