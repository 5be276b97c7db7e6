//! Counters and read-only views.

use std::time::Duration;

use crate::agent::AgentState;
use crate::ids::{AgentId, TaskId};

/// Counters of one queue since the router started. Every accepted task
/// counts once in `entered` and later once in `answered`, `abandoned`,
/// `timed_out` or `left_empty`; until then it is waiting. A transfer into
/// the queue (or a direct offer) is a new entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Tasks accepted into the queue.
    pub entered: u64,
    /// Tasks answered by an agent.
    pub answered: u64,
    /// Tasks whose party hung up before an agent answered.
    pub abandoned: u64,
    /// Tasks that waited `max_wait`.
    pub timed_out: u64,
    /// Tasks that left because the last agent logged out.
    pub left_empty: u64,
    /// Tasks refused at entry (full, or nobody logged in); not in `entered`.
    pub refused: u64,
    /// Answered tasks that waited at most the service-level threshold.
    pub answered_within_sl: u64,
    /// Sum of the waits of answered tasks.
    pub total_wait: Duration,
}

impl QueueCounters {
    /// Tasks that finished waiting (answered or left).
    pub fn finished(&self) -> u64 {
        self.answered + self.abandoned + self.timed_out + self.left_empty
    }

    /// Answered within the threshold, in percent of all tasks that finished
    /// waiting (abandons count against it); `None` before any.
    pub fn service_level(&self) -> Option<f64> {
        let all = self.finished();
        (all > 0).then(|| self.answered_within_sl as f64 * 100.0 / all as f64)
    }

    /// Average wait of answered tasks; `None` before any.
    pub fn average_wait(&self) -> Option<Duration> {
        let n = u32::try_from(self.answered).ok().filter(|n| *n > 0)?;
        Some(self.total_wait / n)
    }
}

/// A waiting task in [`QueueStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingTask {
    /// The task.
    pub task: TaskId,
    /// 1 = next.
    pub position: usize,
    /// Time since it entered the queue.
    pub waited: Duration,
    /// Whether an offer for it is ringing.
    pub ringing: bool,
}

/// A snapshot of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStatus {
    /// Waiting tasks in order.
    pub waiting: Vec<WaitingTask>,
    /// The member agents and their states, by id.
    pub agents: Vec<(AgentId, AgentState)>,
    /// Members logged in.
    pub logged_in: usize,
    /// The counters.
    pub counters: QueueCounters,
    /// See [`QueueCounters::service_level`].
    pub service_level: Option<f64>,
    /// See [`QueueCounters::average_wait`].
    pub average_wait: Option<Duration>,
    /// Moving average of talk + wrap-up time; `None` before any.
    pub average_handle: Option<Duration>,
}
