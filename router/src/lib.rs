//! Queue router for ura, sans-I/O: decides which agent gets which task (a
//! phone call now; chats and e-mails use the same machinery).
//!
//! The engine numbers queues, agents and tasks ([`QueueId`], [`AgentId`],
//! [`TaskId`]); the router numbers offers ([`OfferId`]). Every input takes
//! the current [`std::time::Instant`] (`now`); the router never reads a
//! clock, sleeps, spawns or does I/O. After every input the engine drains
//! [`Router::poll_output`] until `None` and acts on each [`Output`], and
//! calls [`Router::handle_timeout`] once [`Router::poll_timeout`] has
//! passed. Randomness ([`Strategy::Random`]) comes from the seed given to
//! [`Router::new`]. No input sequence panics: unknown ids, stale offers and
//! events out of order return a [`RouterError`] and change nothing.
//!
//! # Decisions where the product text is silent
//!
//! - **Refusals** at entry are returned by [`Router::enqueue`] as an
//!   error (unknown queue, nobody logged in, queue full) and counted in
//!   `refused`; the task never enters. Every accepted task later produces
//!   exactly one `TaskAssigned` (then `task_ended`) or one `TaskLeft`
//!   (abandoned, timeout, nobody logged in). A transfer re-enters a queue
//!   and so starts a new entry.
//! - **Logged in** means logged in, paused or not. `join_when_empty`
//!   and `leave_when_empty` look at that count. Leaving when empty
//!   happens when the count drops to zero (logout, or a config change that
//!   removes the last logged-in member).
//! - **Capacity** is counted per channel and independently: connected,
//!   ringing and wrapping-up tasks of a channel all take a slot of that
//!   channel. So an agent ringing or in wrap-up on voice gets no voice
//!   offer, and an agent on the phone with two chats (capacity 3) can get
//!   a third chat. A wrap-up after a chat holds one chat slot only.
//! - **Reachability** starts true on every channel at startup; the engine
//!   clears it (e.g. softphone unregistered). An agent unreachable on a
//!   channel is never offered a task of it. Becoming unreachable (or
//!   logging out) withdraws ringing offers of that channel
//!   (`OfferCancelled` with `AgentUnreachable` / `AgentLoggedOut`) and
//!   their tasks are routed again at once, without a retry delay.
//! - **Failed offers**: no answer (the router's ring timer, or the
//!   engine's report), busy and declined count as misses; `max_missed`
//!   misses in a row pause the agent with [`MISSED_CALLS`]. An unreachable
//!   report is not a miss: it marks the agent unreachable on the channel.
//!   After any failed offer the task waits the queue's `retry_delay`, then
//!   goes to the strategy's agent, preferring anybody else over the agent
//!   who just failed it (the same agent only if nobody else can take it).
//!   Answering resets the miss count; so do resume and login.
//! - **Pause** stops new offers; offers already ringing stay live and may
//!   still be answered. Logout also ends a pause.
//! - **Which task an agent gets** when they become free: the best routable
//!   task over all their queues and channels with room: higher priority
//!   first, then the one that entered its queue first (entry order is a
//!   sequence number, so it holds across queues and for equal instants).
//!   Tasks waiting in their retry delay or ringing someone are not
//!   routable.
//! - **Which agent a task gets** is the queue's [`Strategy`]. Longest idle
//!   counts from the end of the agent's last wrap-up on that channel (or
//!   login) and prefers agents with fewer tasks on the channel. Round robin
//!   goes by agent id, after the last agent offered a task of the queue.
//!   Fewest calls counts tasks answered from that queue since start. Ring
//!   all rings every available agent; the first answer wins and the others
//!   are cancelled (`AnsweredElsewhere`); a task rings again only after all
//!   its offers failed and the retry delay passed.
//! - **Skills**: required skills are honoured by every strategy (an agent
//!   must have all of them). Levels only matter for [`Strategy::Skills`]: a
//!   task may go to agents of level `1 + waited / level_step` or better,
//!   lowest level first, then longest idle. Levels above [`MAX_LEVEL`]
//!   count as [`MAX_LEVEL`].
//! - **Direct offers** ([`Router::offer_direct`]) require the target to be
//!   able to take the task now (else an error, and the task stays with the
//!   first agent). The task re-enters its queue as a new entry, rings the
//!   target only, and if that fails it waits the retry delay and then goes
//!   to the queue's agents. Transfers send the first agent to wrap-up (the
//!   old queue's wrap-up time) and avoid them for the task if possible.
//! - **Ending**: [`Router::task_ended`] for a task not connected counts as
//!   an abandon; [`Router::abandon`] for a connected task is a normal end.
//!   A task ending after its agent logged out leaves no wrap-up.
//! - **Announcements**: a task is announced when it joins only if it was
//!   not offered at once, then every `announce_interval` from its entry
//!   (skipped, not shifted, while an offer rings). The estimated wait is
//!   `ceil(position / max(1, logged in)) × average handle time`, where the
//!   handle time (answer to end of wrap-up) is a moving average with
//!   weight 1/5 for the newest task; `None` before any task was handled.
//! - **Service level** is the share of tasks answered within the threshold
//!   among all tasks that finished waiting (answered, abandoned, timed
//!   out, left): abandons count against it.
//! - **Config reload** keeps waiting tasks (with their entry time) and
//!   agent state; agents are re-sorted for a new strategy and waiting tasks
//!   routed again. Timers already armed keep their instants.
//!
//! # Cost
//!
//! Routing decisions are O(log n): per queue and lane (channel + required
//! skills) and level, ordered sets of available agents (keyed by the
//! strategy) and of routable tasks; a timer heap with stale entries
//! dropped lazily. Positions (announcements, [`Router::position`]) are
//! O(log n) too, from per-priority Fenwick trees over the entry order.
//! [`Router::queue_status`] is O(waiting + members). The bench
//! `benches/router.rs` measures the hot paths with 10,000 agents and
//! 100,000 waiting tasks.

#![warn(missing_docs)]

mod agent;
mod config;
mod error;
mod ids;
mod output;
mod queue;
mod rank;
mod router;
mod stats;
mod strategy;
mod task;
mod timer;

pub use agent::{AgentCounters, AgentState, MISSED_CALLS};
pub use config::{AgentConfig, Capacity, QueueConfig, Strategy, MAX_LEVEL};
pub use error::RouterError;
pub use ids::{AgentId, Channel, OfferId, QueueId, TaskId, CHANNELS};
pub use output::{CancelReason, LeaveReason, OfferFailure, Output};
pub use router::Router;
pub use stats::{QueueCounters, QueueStatus, WaitingTask};
pub use task::TaskSpec;
