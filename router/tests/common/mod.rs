//! A router with a simulated clock and helpers to read its outputs.

#![allow(dead_code)]

use std::time::{Duration, Instant};

pub use ura_router::*;

pub const Q1: QueueId = QueueId(1);
pub const Q2: QueueId = QueueId(2);

pub struct Sim {
    pub router: Router,
    pub t0: Instant,
    pub now: Instant,
}

impl Sim {
    pub fn new() -> Self {
        let t0 = Instant::now();
        Self {
            router: Router::new(7),
            t0,
            now: t0,
        }
    }

    /// `t0 + ms` milliseconds.
    pub fn at_ms(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Moves the clock to `t0 + secs` and runs due timers.
    pub fn advance(&mut self, secs: f64) -> Vec<Output> {
        self.advance_ms((secs * 1000.0).round() as u64)
    }

    pub fn advance_ms(&mut self, ms: u64) -> Vec<Output> {
        self.now = self.at_ms(ms);
        if let Some(due) = self.router.poll_timeout() {
            if due <= self.now {
                self.router.handle_timeout(self.now);
            }
        }
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.router.poll_output()).collect()
    }

    pub fn queue(&mut self, id: QueueId, config: QueueConfig) {
        self.router.upsert_queue(self.now, id, config);
        self.drain();
    }

    /// Adds agents `ids` to `queue` at level 1 and logs them in, in order.
    pub fn agents(&mut self, queue: QueueId, ids: &[u32]) {
        for id in ids {
            let cfg = AgentConfig::in_queues(format!("a{id}"), [queue]);
            self.router.upsert_agent(self.now, AgentId(*id), cfg);
            self.router.login(self.now, AgentId(*id)).unwrap();
        }
        self.drain();
    }

    pub fn enqueue(&mut self, task: u64, queue: QueueId) -> Vec<Output> {
        self.router
            .enqueue(self.now, TaskSpec::new(TaskId(task), queue, Channel::Voice))
            .unwrap();
        self.drain()
    }

    pub fn accept(&mut self, offer: OfferId) -> Vec<Output> {
        self.router.offer_accepted(self.now, offer).unwrap();
        self.drain()
    }
}

/// The offers among outputs: (offer, task, agent).
pub fn offers(out: &[Output]) -> Vec<(OfferId, TaskId, AgentId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Offer {
                offer, task, agent, ..
            } => Some((*offer, *task, *agent)),
            _ => None,
        })
        .collect()
}

/// The agents offered a task among outputs.
pub fn offered_agents(out: &[Output]) -> Vec<u32> {
    offers(out).into_iter().map(|(_, _, a)| a.0).collect()
}

pub fn cancels(out: &[Output]) -> Vec<(OfferId, CancelReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::OfferCancelled { offer, reason, .. } => Some((*offer, *reason)),
            _ => None,
        })
        .collect()
}

pub fn states(out: &[Output], agent: u32) -> Vec<AgentState> {
    out.iter()
        .filter_map(|o| match o {
            Output::AgentState { agent: a, state } if a.0 == agent => Some(state.clone()),
            _ => None,
        })
        .collect()
}

pub fn left(out: &[Output]) -> Vec<(u64, LeaveReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::TaskLeft { task, reason, .. } => Some((task.0, *reason)),
            _ => None,
        })
        .collect()
}

pub fn announces(out: &[Output]) -> Vec<(u64, usize, Option<Duration>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Announce {
                task,
                position,
                estimated_wait,
            } => Some((task.0, *position, *estimated_wait)),
            _ => None,
        })
        .collect()
}
