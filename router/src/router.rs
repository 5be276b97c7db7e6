//! The router: inputs in, [`Output`]s out, timers through
//! [`Router::poll_timeout`] / [`Router::handle_timeout`].

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agent::{Agent, AgentCounters, AgentState, Membership, WrapUp, MISSED_CALLS};
use crate::config::{AgentConfig, QueueConfig, Strategy, MAX_LEVEL};
use crate::error::RouterError;
use crate::ids::{AgentId, Channel, OfferId, QueueId, TaskId};
use crate::output::{CancelReason, LeaveReason, OfferFailure, Output};
use crate::queue::{Lane, LaneKey, QueueState, TaskKey};
use crate::stats::{QueueCounters, QueueStatus, WaitingTask};
use crate::strategy;
use crate::task::{Task, TaskSpec, TaskState};
use crate::timer::{TimerKey, Timers};

/// Stale timers dropped per drain of the outputs (see `prune_timers`).
const PRUNE_PER_DRAIN: usize = 8;

/// `now + wait`, or `now` if that is not representable (never panics).
fn later(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait).unwrap_or(now)
}

#[derive(Debug, Clone, Copy)]
struct Offer {
    task: TaskId,
    agent: AgentId,
    channel: Channel,
    deadline: Instant,
}

/// How a live offer ends without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OfferEnd {
    /// Failed (timeout or the engine's report): the task waits the retry
    /// delay. `miss` counts toward the auto-pause.
    Failed { miss: bool },
    /// The router withdrew it for the agent's sake (logout, unreachable):
    /// the task is routed again at once.
    Withdrawn(CancelReason),
}

/// The queue router of a contact center. See the crate documentation.
#[derive(Debug)]
pub struct Router {
    queues: HashMap<QueueId, QueueState>,
    agents: HashMap<AgentId, Agent>,
    /// Configured members per queue id (the queue may not exist yet).
    members: HashMap<QueueId, BTreeSet<AgentId>>,
    tasks: HashMap<TaskId, Task>,
    offers: HashMap<OfferId, Offer>,
    timers: Timers,
    next_offer: u64,
    next_wrap: u64,
    next_epoch: u64,
    rng: fastrand::Rng,
    out: VecDeque<Output>,
}

impl Router {
    /// An empty router; `seed` drives the random strategy.
    pub fn new(seed: u64) -> Self {
        Self {
            queues: HashMap::new(),
            agents: HashMap::new(),
            members: HashMap::new(),
            tasks: HashMap::new(),
            offers: HashMap::new(),
            timers: Timers::default(),
            next_offer: 0,
            next_wrap: 0,
            next_epoch: 0,
            rng: fastrand::Rng::with_seed(seed),
            out: VecDeque::new(),
        }
    }

    // ----- configuration -------------------------------------------------

    /// Adds a queue or replaces its settings. Waiting tasks and agents are
    /// kept; the agents' order is rebuilt for the (new) strategy and the
    /// waiting tasks are routed again. Timers already armed keep their
    /// instants; new settings apply to timers armed from now on.
    pub fn upsert_queue(&mut self, now: Instant, id: QueueId, config: QueueConfig) {
        let Some(queue) = self.queues.get_mut(&id) else {
            let mut queue = QueueState::new(config);
            queue.logged_in = self.logged_in_members(id);
            self.queues.insert(id, queue);
            return;
        };
        let was_skills = queue.config.strategy == Strategy::Skills;
        queue.config = config;
        let skills = queue.config.strategy == Strategy::Skills;
        // Take every routable task out, rebuild the agent sets, route again.
        let mut routable = Vec::new();
        for lane in queue.lanes.values_mut() {
            for level in lane.tasks.iter_mut() {
                routable.extend(mem::take(level).into_iter().map(|(_, _, t)| t));
            }
        }
        let waiting: Vec<TaskId> = queue.order.iter().map(|k| k.2).collect();
        let step = queue.config.level_step;
        for tid in &waiting {
            let Some(task) = self.tasks.get_mut(tid) else {
                continue;
            };
            if skills && !was_skills {
                task.level = 1;
                let epoch = task.epoch;
                let at = later(task.enqueued_at, step);
                self.timers
                    .arm(at.max(now), TimerKey::LevelUp(*tid, epoch, 1));
            } else if !skills {
                task.level = 1;
            }
            if task.state == TaskState::Queued {
                // Routed again below.
                task.state = TaskState::Parked;
            }
        }
        let members: Vec<AgentId> = self
            .members
            .get(&id)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        for aid in &members {
            self.reindex(*aid);
        }
        routable.sort_by_key(|t| self.tasks.get(t).map(Task::key));
        for tid in routable {
            self.route_task(now, tid);
        }
        for aid in members {
            self.route_agent(now, aid);
        }
        self.leave_if_empty(now, id);
    }

    /// Adds an agent or replaces their settings, keeping their state (logged
    /// in, paused, tasks). Live offers stay live.
    pub fn upsert_agent(&mut self, now: Instant, id: AgentId, config: AgentConfig) {
        let (old_queues, logged_in) = match self.agents.get_mut(&id) {
            Some(agent) => {
                let old = mem::replace(&mut agent.config, config);
                (old.queues.into_keys().collect(), agent.logged_in)
            }
            None => {
                self.agents.insert(id, Agent::new(id, config));
                (Vec::new(), false)
            }
        };
        let new_queues: Vec<QueueId> = self.agents[&id].config.queues.keys().copied().collect();
        for q in &old_queues {
            if let Some(m) = self.members.get_mut(q) {
                m.remove(&id);
            }
            if logged_in {
                if let Some(queue) = self.queues.get_mut(q) {
                    queue.logged_in = queue.logged_in.saturating_sub(1);
                }
            }
        }
        for q in &new_queues {
            self.members.entry(*q).or_default().insert(id);
            if logged_in {
                if let Some(queue) = self.queues.get_mut(q) {
                    queue.logged_in += 1;
                }
            }
        }
        self.agent_changed(now, id);
        for q in old_queues {
            if !new_queues.contains(&q) {
                self.leave_if_empty(now, q);
            }
        }
    }

    // ----- agent state -----------------------------------------------------

    /// The agent logs in: available on every channel where reachable (all
    /// channels start reachable). Logging in again is ignored.
    pub fn login(&mut self, now: Instant, agent: AgentId) -> Result<(), RouterError> {
        let a = self
            .agents
            .get_mut(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        if a.logged_in {
            return Ok(());
        }
        a.logged_in = true;
        a.paused = None;
        a.missed_in_row = 0;
        a.idle_since = [Some(now); crate::ids::CHANNELS];
        for q in a.config.queues.keys() {
            if let Some(queue) = self.queues.get_mut(q) {
                queue.logged_in += 1;
            }
        }
        self.agent_changed(now, agent);
        Ok(())
    }

    /// The agent logs out: ringing offers are cancelled and their tasks
    /// routed again at once; connected tasks stay connected until they end
    /// (then without wrap-up). Queues left without anybody logged in and
    /// with `leave_when_empty` send their waiting tasks away.
    pub fn logout(&mut self, now: Instant, agent: AgentId) -> Result<(), RouterError> {
        let a = self
            .agents
            .get_mut(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        if !a.logged_in {
            return Ok(());
        }
        a.logged_in = false;
        a.paused = None;
        a.missed_in_row = 0;
        let queues: Vec<QueueId> = a.config.queues.keys().copied().collect();
        let offers = a.offers.clone();
        for q in &queues {
            if let Some(queue) = self.queues.get_mut(q) {
                queue.logged_in = queue.logged_in.saturating_sub(1);
            }
        }
        self.reindex(agent);
        for offer in offers {
            self.end_offer(
                now,
                offer,
                OfferEnd::Withdrawn(CancelReason::AgentLoggedOut),
            );
        }
        self.agent_changed(now, agent);
        for q in queues {
            self.leave_if_empty(now, q);
        }
        Ok(())
    }

    /// Pauses the agent (no new offers; ringing offers stay live). Pausing
    /// again changes the reason.
    pub fn pause(
        &mut self,
        now: Instant,
        agent: AgentId,
        reason: String,
    ) -> Result<(), RouterError> {
        let a = self
            .agents
            .get_mut(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        if !a.logged_in {
            return Err(RouterError::NotLoggedIn(agent));
        }
        a.paused = Some(reason);
        self.agent_changed(now, agent);
        Ok(())
    }

    /// Ends a pause and the count of missed offers in a row.
    pub fn resume(&mut self, now: Instant, agent: AgentId) -> Result<(), RouterError> {
        let a = self
            .agents
            .get_mut(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        if !a.logged_in {
            return Err(RouterError::NotLoggedIn(agent));
        }
        a.paused = None;
        a.missed_in_row = 0;
        self.agent_changed(now, agent);
        Ok(())
    }

    /// Whether the agent's device for `channel` can be reached (for voice:
    /// the softphone is registered). Becoming unreachable withdraws ringing
    /// offers of that channel; their tasks are routed again at once.
    pub fn set_reachable(
        &mut self,
        now: Instant,
        agent: AgentId,
        channel: Channel,
        reachable: bool,
    ) -> Result<(), RouterError> {
        let a = self
            .agents
            .get_mut(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        a.reachable[channel.index()] = reachable;
        if !reachable {
            self.reindex(agent);
            let Some(a) = self.agents.get(&agent) else {
                return Ok(());
            };
            let offers: Vec<OfferId> = a
                .offers
                .iter()
                .copied()
                .filter(|o| self.offers.get(o).is_some_and(|o| o.channel == channel))
                .collect();
            for offer in offers {
                self.end_offer(
                    now,
                    offer,
                    OfferEnd::Withdrawn(CancelReason::AgentUnreachable),
                );
            }
        }
        self.agent_changed(now, agent);
        Ok(())
    }

    // ----- tasks -------------------------------------------------------------

    /// A new task joins its queue. Refusals are returned (and counted in
    /// `refused`): unknown queue, nobody logged in (unless
    /// `join_when_empty`), queue full. An accepted task is offered at once
    /// if an agent can take it; otherwise its position is announced.
    pub fn enqueue(&mut self, now: Instant, spec: TaskSpec) -> Result<(), RouterError> {
        if self.tasks.contains_key(&spec.id) {
            return Err(RouterError::DuplicateTask(spec.id));
        }
        self.admit(spec.queue)?;
        let task = Task {
            id: spec.id,
            queue: spec.queue,
            lane: LaneKey {
                channel: spec.channel,
                skills: Arc::new(spec.required_skills),
            },
            priority: spec.priority,
            enqueued_at: now,
            epoch: 0,
            slot: 0,
            level: 1,
            avoid: None,
            state: TaskState::Parked,
        };
        self.tasks.insert(spec.id, task);
        self.enter_queue(now, spec.id, spec.queue, None);
        Ok(())
    }

    /// The agent answered: the task is connected (`TaskAssigned`), other
    /// offers of the task are cancelled.
    pub fn offer_accepted(&mut self, now: Instant, offer: OfferId) -> Result<(), RouterError> {
        let o = self
            .offers
            .remove(&offer)
            .ok_or(RouterError::UnknownOffer(offer))?;
        let Some(task) = self.tasks.get_mut(&o.task) else {
            return Ok(());
        };
        let others = match mem::replace(
            &mut task.state,
            TaskState::Connected {
                agent: o.agent,
                answered_at: now,
            },
        ) {
            TaskState::Ringing(offers) => offers,
            _ => Vec::new(),
        };
        let key = task.key();
        let qid = task.queue;
        let waited = now.saturating_duration_since(task.enqueued_at);
        let (priority, slot) = (task.priority, task.slot);
        self.forget_waiting(qid, key, priority, slot);
        if let Some(queue) = self.queues.get_mut(&qid) {
            let c = &mut queue.counters;
            c.answered += 1;
            c.total_wait = c.total_wait.saturating_add(waited);
            if waited <= queue.config.service_level {
                c.answered_within_sl += 1;
            }
        }
        if let Some(a) = self.agents.get_mut(&o.agent) {
            a.offers.retain(|x| *x != offer);
            let i = o.channel.index();
            a.ringing[i] = a.ringing[i].saturating_sub(1);
            a.active[i] += 1;
            a.missed_in_row = 0;
            a.counters.answered += 1;
            *a.answered_in.entry(qid).or_default() += 1;
        }
        self.out.push_back(Output::TaskAssigned {
            task: o.task,
            agent: o.agent,
            queue: qid,
        });
        for other in others.into_iter().filter(|x| *x != offer) {
            self.cancel_offer(now, other, CancelReason::AnsweredElsewhere);
        }
        self.agent_changed(now, o.agent);
        Ok(())
    }

    /// The engine could not complete the offer. No answer, busy and declined
    /// count as misses (after `max_missed` in a row the agent is paused
    /// with "missed calls"); unreachable marks the agent unreachable on the
    /// channel instead. The task gets its next offer after the retry delay.
    pub fn offer_failed(
        &mut self,
        now: Instant,
        offer: OfferId,
        failure: OfferFailure,
    ) -> Result<(), RouterError> {
        let o = *self
            .offers
            .get(&offer)
            .ok_or(RouterError::UnknownOffer(offer))?;
        let miss = failure != OfferFailure::Unreachable;
        if !miss {
            if let Some(a) = self.agents.get_mut(&o.agent) {
                a.reachable[o.channel.index()] = false;
            }
        }
        self.end_offer(now, offer, OfferEnd::Failed { miss });
        Ok(())
    }

    /// The task is over (hung up, chat closed). A connected task frees its
    /// agent, who goes to wrap-up (if logged in and the queue has one); a
    /// task still waiting is treated as [`Router::abandon`].
    pub fn task_ended(&mut self, now: Instant, task: TaskId) -> Result<(), RouterError> {
        let t = self
            .tasks
            .get(&task)
            .ok_or(RouterError::UnknownTask(task))?;
        let TaskState::Connected { agent, answered_at } = t.state else {
            return self.abandon(now, task);
        };
        let (qid, channel) = (t.queue, t.channel());
        self.tasks.remove(&task);
        self.release_agent(now, agent, qid, channel, answered_at);
        self.agent_changed(now, agent);
        Ok(())
    }

    /// The party hung up before being connected: ringing offers are
    /// cancelled and the task leaves (`TaskLeft` with `Abandoned`). For a
    /// connected task this is [`Router::task_ended`].
    pub fn abandon(&mut self, now: Instant, task: TaskId) -> Result<(), RouterError> {
        let t = self
            .tasks
            .get(&task)
            .ok_or(RouterError::UnknownTask(task))?;
        if matches!(t.state, TaskState::Connected { .. }) {
            return self.task_ended(now, task);
        }
        self.leave(now, task, CancelReason::Abandoned, LeaveReason::Abandoned);
        Ok(())
    }

    /// Blind transfer of a connected task to a queue: it enters the queue
    /// as a new task (same priority and skills, waiting from now); the
    /// first agent goes to wrap-up and is avoided for the task if anybody
    /// else can take it. Refusals as for [`Router::enqueue`], and then the
    /// task stays connected.
    pub fn transfer_to_queue(
        &mut self,
        now: Instant,
        task: TaskId,
        queue: QueueId,
    ) -> Result<(), RouterError> {
        let t = self
            .tasks
            .get(&task)
            .ok_or(RouterError::UnknownTask(task))?;
        let TaskState::Connected { agent, answered_at } = t.state else {
            return Err(RouterError::NotConnected(task));
        };
        let (from, channel) = (t.queue, t.channel());
        self.admit(queue)?;
        if let Some(t) = self.tasks.get_mut(&task) {
            t.avoid = Some(agent);
            t.state = TaskState::Parked;
        }
        self.release_agent(now, agent, from, channel, answered_at);
        self.enter_queue(now, task, queue, None);
        self.agent_changed(now, agent);
        Ok(())
    }

    /// Blind transfer of a connected task to one agent: the task re-enters
    /// its queue (a new entry) and is offered to `agent` only; if that offer
    /// fails, it waits the retry delay and then goes to any agent of the
    /// queue. The first agent goes to wrap-up. Refused (task unchanged) if
    /// `agent` can't take a task of the channel now.
    pub fn offer_direct(
        &mut self,
        now: Instant,
        task: TaskId,
        agent: AgentId,
    ) -> Result<(), RouterError> {
        let t = self
            .tasks
            .get(&task)
            .ok_or(RouterError::UnknownTask(task))?;
        let TaskState::Connected {
            agent: from,
            answered_at,
        } = t.state
        else {
            return Err(RouterError::NotConnected(task));
        };
        let (qid, channel) = (t.queue, t.channel());
        let target = self
            .agents
            .get(&agent)
            .ok_or(RouterError::UnknownAgent(agent))?;
        if agent == from || !target.can_take(channel) {
            return Err(RouterError::AgentUnavailable(agent));
        }
        if !self.queues.contains_key(&qid) {
            return Err(RouterError::UnknownQueue(qid));
        }
        if let Some(t) = self.tasks.get_mut(&task) {
            t.avoid = Some(from);
            t.state = TaskState::Parked;
        }
        self.release_agent(now, from, qid, channel, answered_at);
        self.enter_queue(now, task, qid, Some(agent));
        self.agent_changed(now, from);
        Ok(())
    }

    // ----- driving -------------------------------------------------------

    /// The next output, in order; `None` when drained. Drain after every
    /// input and after [`Router::handle_timeout`].
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front();
        if out.is_none() {
            self.prune_timers();
        }
        out
    }

    /// When [`Router::handle_timeout`] should be called next. May be early
    /// (a timer made stale since the outputs were last drained); never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(at, _)| at)
    }

    /// Runs every timer due at `now` (in instant order) that was armed
    /// before this call. Timers it arms that are already due (zero
    /// durations) wait for the next call, so a configuration of zero
    /// timeouts can't spin here; [`Router::poll_timeout`] reports them.
    pub fn handle_timeout(&mut self, now: Instant) {
        let armed = self.timers.armed();
        while let Some((at, key)) = self.timers.next() {
            if at > now || self.timers.next_seq().is_some_and(|s| s > armed) {
                break;
            }
            self.timers.pop();
            self.fire(now, at, key);
        }
    }

    // ----- views -------------------------------------------------------

    /// The agent's state; `None` for an unknown agent.
    pub fn agent_state(&self, agent: AgentId) -> Option<AgentState> {
        self.agents.get(&agent).map(Agent::state)
    }

    /// The agent's counters; `None` for an unknown agent.
    pub fn agent_counters(&self, agent: AgentId) -> Option<AgentCounters> {
        self.agents.get(&agent).map(|a| a.counters)
    }

    /// The queue's counters; `None` for an unknown queue.
    pub fn queue_counters(&self, queue: QueueId) -> Option<QueueCounters> {
        self.queues.get(&queue).map(|q| q.counters)
    }

    /// The 1-based position of a task not yet connected (O(log n)).
    pub fn position(&self, task: TaskId) -> Option<usize> {
        let t = self.tasks.get(&task)?;
        if matches!(t.state, TaskState::Connected { .. }) {
            return None;
        }
        let q = self.queues.get(&t.queue)?;
        Some(q.ranks.position(t.priority, t.slot))
    }

    /// A snapshot of the queue at `now` (O(waiting + members)).
    pub fn queue_status(&self, now: Instant, queue: QueueId) -> Option<QueueStatus> {
        let q = self.queues.get(&queue)?;
        let waiting = q
            .order
            .iter()
            .enumerate()
            .map(|(i, (_, _, tid))| WaitingTask {
                task: *tid,
                position: i + 1,
                waited: self
                    .tasks
                    .get(tid)
                    .map(|t| now.saturating_duration_since(t.enqueued_at))
                    .unwrap_or_default(),
                ringing: self
                    .tasks
                    .get(tid)
                    .is_some_and(|t| matches!(t.state, TaskState::Ringing(_))),
            })
            .collect();
        let agents = self
            .members
            .get(&queue)
            .into_iter()
            .flatten()
            .filter_map(|a| self.agents.get(a).map(|x| (*a, x.state())))
            .collect();
        Some(QueueStatus {
            waiting,
            agents,
            logged_in: q.logged_in,
            counters: q.counters,
            service_level: q.counters.service_level(),
            average_wait: q.counters.average_wait(),
            average_handle: q.handle_time,
        })
    }

    /// How many tasks the router knows (waiting or connected).
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Checks the router's internal invariants (for tests): every agent
    /// sits in exactly the available sets it belongs in, and no routable
    /// task waits while an agent of its lane and level is available.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (qid, q) in &self.queues {
            for (lk, lane) in &q.lanes {
                let mut seen_agents = false;
                for level in 0..usize::from(MAX_LEVEL) {
                    seen_agents |= !lane.agents[level].is_empty();
                    if seen_agents && !lane.tasks[level].is_empty() {
                        return Err(format!(
                            "queue {qid} {lk:?}: tasks wait at level {} with agents available",
                            level + 1
                        ));
                    }
                    for key in &lane.tasks[level] {
                        let t = self.tasks.get(&key.2).ok_or("queued task unknown")?;
                        if t.state != TaskState::Queued || t.key() != *key {
                            return Err(format!("task {} in a lane but {:?}", key.2, t.state));
                        }
                    }
                    for key in &lane.agents[level] {
                        let a = self.agents.get(&key.agent).ok_or("agent unknown")?;
                        if !a.can_take(lk.channel) || !a.has_skills(&lk.skills) {
                            return Err(format!("agent {} listed but can't take", a.id));
                        }
                    }
                }
            }
        }
        for a in self.agents.values() {
            for ch in Channel::ALL {
                let listed = a
                    .memberships
                    .iter()
                    .filter(|m| m.lane.channel == ch)
                    .count();
                let lanes: usize = a
                    .config
                    .queues
                    .keys()
                    .filter_map(|q| self.queues.get(q))
                    .map(|q| {
                        q.lanes
                            .keys()
                            .filter(|lk| lk.channel == ch && a.has_skills(&lk.skills))
                            .count()
                    })
                    .sum();
                let expected = if a.can_take(ch) { lanes } else { 0 };
                if listed != expected {
                    return Err(format!(
                        "agent {} {ch:?}: in {listed} lanes, expected {expected}",
                        a.id
                    ));
                }
            }
        }
        for t in self.tasks.values() {
            if let TaskState::Ringing(offers) = &t.state {
                if offers.is_empty() || offers.iter().any(|o| !self.offers.contains_key(o)) {
                    return Err(format!("task {} ringing with dead offers", t.id));
                }
            }
        }
        Ok(())
    }

    // ----- internals: entry and exit -------------------------------------

    /// Checks that `queue` accepts one more task; counts a refusal.
    fn admit(&mut self, queue: QueueId) -> Result<(), RouterError> {
        let q = self
            .queues
            .get_mut(&queue)
            .ok_or(RouterError::UnknownQueue(queue))?;
        if q.logged_in == 0 && !q.config.join_when_empty {
            q.counters.refused += 1;
            return Err(RouterError::NobodyLoggedIn(queue));
        }
        if q.config.max_waiting.is_some_and(|max| q.order.len() >= max) {
            q.counters.refused += 1;
            return Err(RouterError::QueueFull(queue));
        }
        Ok(())
    }

    /// Puts an admitted task (in the map, not in any set) into `queue` as a
    /// new entry, then offers it (to `direct` only, if given).
    fn enter_queue(&mut self, now: Instant, tid: TaskId, qid: QueueId, direct: Option<AgentId>) {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let Some(q) = self.queues.get_mut(&qid) else {
            return;
        };
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        t.queue = qid;
        t.enqueued_at = now;
        t.epoch = epoch;
        t.level = 1;
        t.slot = q.ranks.push(t.priority);
        q.order.insert(t.key());
        q.counters.entered += 1;
        let lane = t.lane.clone();
        let config = q.config.clone();
        if let Some(max) = config.max_wait {
            self.timers
                .arm(later(now, max), TimerKey::MaxWait(tid, epoch));
        }
        if config.strategy == Strategy::Skills {
            self.timers.arm(
                later(now, config.level_step),
                TimerKey::LevelUp(tid, epoch, 1),
            );
        }
        if let Some(every) = config.announce_interval {
            self.timers
                .arm(later(now, every), TimerKey::Announce(tid, epoch));
        }
        self.ensure_lane(qid, &lane);
        match direct {
            Some(agent) => self.make_offer(now, tid, agent),
            None => self.route_task(now, tid),
        }
        let queued = self
            .tasks
            .get(&tid)
            .is_some_and(|t| t.state == TaskState::Queued);
        if queued && config.announce_interval.is_some() {
            self.announce(tid);
        }
    }

    /// The task leaves its queue unanswered.
    fn leave(&mut self, now: Instant, tid: TaskId, cancel: CancelReason, reason: LeaveReason) {
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        if matches!(t.state, TaskState::Connected { .. }) {
            return;
        }
        let offers = match &t.state {
            TaskState::Ringing(offers) => offers.clone(),
            _ => Vec::new(),
        };
        if t.state == TaskState::Queued {
            self.unqueue(tid);
        }
        for offer in offers {
            self.cancel_offer(now, offer, cancel);
        }
        let Some(t) = self.tasks.remove(&tid) else {
            return;
        };
        self.forget_waiting(t.queue, t.key(), t.priority, t.slot);
        if let Some(q) = self.queues.get_mut(&t.queue) {
            let c = &mut q.counters;
            match reason {
                LeaveReason::Abandoned => c.abandoned += 1,
                LeaveReason::Timeout => c.timed_out += 1,
                LeaveReason::NobodyLoggedIn => c.left_empty += 1,
            }
        }
        self.out.push_back(Output::TaskLeft {
            task: tid,
            queue: t.queue,
            reason,
        });
    }

    /// Takes a task out of its queue's waiting order and position counts,
    /// renumbering the priority's slots when most of them are dead.
    fn forget_waiting(&mut self, qid: QueueId, key: TaskKey, priority: i32, slot: usize) {
        let Some(q) = self.queues.get_mut(&qid) else {
            return;
        };
        if !q.order.remove(&key) || !q.ranks.remove(priority, slot) {
            return;
        }
        let from = (Reverse(priority), 0, TaskId(0));
        let same: Vec<TaskId> = q
            .order
            .range(from..)
            .take_while(|k| k.0 == Reverse(priority))
            .map(|k| k.2)
            .collect();
        q.ranks.renumber(priority, same.len());
        for (slot, tid) in same.into_iter().enumerate() {
            if let Some(t) = self.tasks.get_mut(&tid) {
                t.slot = slot;
            }
        }
    }

    fn leave_if_empty(&mut self, now: Instant, qid: QueueId) {
        let Some(q) = self.queues.get(&qid) else {
            return;
        };
        if q.logged_in > 0 || !q.config.leave_when_empty {
            return;
        }
        let waiting: Vec<TaskId> = q.order.iter().map(|k| k.2).collect();
        for tid in waiting {
            self.leave(
                now,
                tid,
                CancelReason::TaskLeft,
                LeaveReason::NobodyLoggedIn,
            );
        }
    }

    /// Frees the agent of a connected task: wrap-up (if logged in and the
    /// queue has one) or straight back, recording the handle time.
    fn release_agent(
        &mut self,
        now: Instant,
        aid: AgentId,
        qid: QueueId,
        channel: Channel,
        answered_at: Instant,
    ) {
        let wrap = self
            .queues
            .get(&qid)
            .map(|q| q.config.wrap_up)
            .unwrap_or_default();
        let Some(a) = self.agents.get_mut(&aid) else {
            return;
        };
        let i = channel.index();
        a.active[i] = a.active[i].saturating_sub(1);
        if a.logged_in && !wrap.is_zero() {
            self.next_wrap += 1;
            let until = later(now, wrap);
            a.wrapups.push(WrapUp {
                id: self.next_wrap,
                channel,
                queue: qid,
                until,
                answered_at,
            });
            self.timers
                .arm(until, TimerKey::WrapUp(aid, self.next_wrap));
        } else {
            a.idle_since[i] = Some(now);
            if let Some(q) = self.queues.get_mut(&qid) {
                q.record_handle(now.saturating_duration_since(answered_at));
            }
        }
    }

    // ----- internals: offers -------------------------------------------------

    /// Offers the task (not in any set) to one agent.
    fn make_offer(&mut self, now: Instant, tid: TaskId, aid: AgentId) {
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        let ring = self
            .queues
            .get(&t.queue)
            .map(|q| q.config.ring_timeout)
            .unwrap_or_default();
        let channel = t.channel();
        self.next_offer += 1;
        let offer = OfferId(self.next_offer);
        match &mut t.state {
            TaskState::Ringing(offers) => offers.push(offer),
            state => *state = TaskState::Ringing(vec![offer]),
        }
        let deadline = later(now, ring);
        self.offers.insert(
            offer,
            Offer {
                task: tid,
                agent: aid,
                channel,
                deadline,
            },
        );
        self.timers.arm(deadline, TimerKey::Ring(offer));
        if let Some(a) = self.agents.get_mut(&aid) {
            a.ringing[channel.index()] += 1;
            a.counters.offers += 1;
            a.offers.push(offer);
        }
        self.out.push_back(Output::Offer {
            offer,
            task: tid,
            agent: aid,
            channel,
        });
        self.reindex(aid);
        self.report(aid);
    }

    /// The router stops a live offer whose task is handled by the caller.
    fn cancel_offer(&mut self, now: Instant, offer: OfferId, reason: CancelReason) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        self.out.push_back(Output::OfferCancelled {
            offer,
            task: o.task,
            agent: o.agent,
            reason,
        });
        if let Some(a) = self.agents.get_mut(&o.agent) {
            a.offers.retain(|x| *x != offer);
            let i = o.channel.index();
            a.ringing[i] = a.ringing[i].saturating_sub(1);
        }
        if let Some(t) = self.tasks.get_mut(&o.task) {
            if let TaskState::Ringing(offers) = &mut t.state {
                offers.retain(|x| *x != offer);
            }
        }
        self.agent_changed(now, o.agent);
    }

    /// A live offer ends unanswered (failure, timeout, withdrawal); the task
    /// moves on once its last offer is gone.
    fn end_offer(&mut self, now: Instant, offer: OfferId, how: OfferEnd) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        if let OfferEnd::Withdrawn(reason) = how {
            self.out.push_back(Output::OfferCancelled {
                offer,
                task: o.task,
                agent: o.agent,
                reason,
            });
        }
        if let Some(a) = self.agents.get_mut(&o.agent) {
            a.offers.retain(|x| *x != offer);
            let i = o.channel.index();
            a.ringing[i] = a.ringing[i].saturating_sub(1);
            if let OfferEnd::Failed { miss: true } = how {
                a.counters.missed += 1;
                a.missed_in_row += 1;
                let max = a.config.max_missed;
                if max > 0 && a.missed_in_row >= max && a.logged_in && a.paused.is_none() {
                    a.paused = Some(MISSED_CALLS.to_owned());
                }
            }
        }
        let mut reroute = false;
        if let Some(t) = self.tasks.get_mut(&o.task) {
            if let TaskState::Ringing(offers) = &mut t.state {
                offers.retain(|x| *x != offer);
                if offers.is_empty() {
                    t.avoid = Some(o.agent);
                    match how {
                        OfferEnd::Failed { .. } => {
                            let retry = self
                                .queues
                                .get(&t.queue)
                                .map(|q| q.config.retry_delay)
                                .unwrap_or_default();
                            let until = later(now, retry);
                            t.state = TaskState::Cooling { until };
                            self.timers.arm(until, TimerKey::Retry(o.task));
                        }
                        OfferEnd::Withdrawn(_) => {
                            t.state = TaskState::Parked;
                            reroute = true;
                        }
                    }
                }
            }
        }
        if reroute {
            self.reindex(o.agent);
            self.route_task(now, o.task);
        }
        self.agent_changed(now, o.agent);
    }

    // ----- internals: routing ----------------------------------------------

    /// Routes a task that is in no set: offer it to the strategy's agent(s)
    /// or put it in its lane's routable set.
    fn route_task(&mut self, now: Instant, tid: TaskId) {
        enum Decision {
            Offer(Vec<AgentId>),
            Wait(TaskKey, usize),
        }
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        if !matches!(t.state, TaskState::Parked | TaskState::Cooling { .. }) {
            return;
        }
        let qid = t.queue;
        let Some(q) = self.queues.get(&qid) else {
            return;
        };
        let Some(lane) = q.lanes.get(&t.lane) else {
            return;
        };
        let levels = usize::from(t.level.clamp(1, MAX_LEVEL));
        let strategy = q.config.strategy;
        let chosen: Vec<AgentId> = if strategy == Strategy::RingAll {
            lane.agents[..levels]
                .iter()
                .flatten()
                .map(|k| k.agent)
                .collect()
        } else {
            let find = |exclude: Option<AgentId>| {
                lane.agents[..levels]
                    .iter()
                    .find_map(|set| strategy::pick(set, strategy, q.last_offered, exclude))
            };
            find(t.avoid)
                .or_else(|| t.avoid.and_then(|_| find(None)))
                .into_iter()
                .collect()
        };
        let decision = if chosen.is_empty() {
            Decision::Wait(t.key(), levels - 1)
        } else {
            Decision::Offer(chosen)
        };
        match decision {
            Decision::Offer(agents) => {
                if strategy != Strategy::RingAll {
                    if let Some(q) = self.queues.get_mut(&qid) {
                        q.last_offered = agents.first().copied();
                    }
                }
                for aid in agents {
                    self.make_offer(now, tid, aid);
                }
            }
            Decision::Wait(key, level) => {
                let Some(t) = self.tasks.get_mut(&tid) else {
                    return;
                };
                if let Some(lane) = self
                    .queues
                    .get_mut(&qid)
                    .and_then(|q| q.lanes.get_mut(&t.lane))
                {
                    lane.tasks[level].insert(key);
                }
                t.state = TaskState::Queued;
            }
        }
    }

    /// Takes a queued task out of its lane's routable set (state becomes a
    /// parked until the caller moves it on).
    fn unqueue(&mut self, tid: TaskId) {
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        if t.state != TaskState::Queued {
            return;
        }
        let key = t.key();
        let level = usize::from(t.level.clamp(1, MAX_LEVEL)) - 1;
        if let Some(lane) = self
            .queues
            .get_mut(&t.queue)
            .and_then(|q| q.lanes.get_mut(&t.lane))
        {
            lane.tasks[level].remove(&key);
        }
        t.state = TaskState::Parked;
    }

    /// Offers the agent the best routable tasks they can take, while they
    /// can take more: highest priority first, then longest waiting, over
    /// all their queues and channels.
    fn route_agent(&mut self, now: Instant, aid: AgentId) {
        loop {
            let Some(a) = self.agents.get(&aid) else {
                return;
            };
            let mut best: Option<TaskKey> = None;
            for m in &a.memberships {
                let Some(lane) = self.queues.get(&m.queue).and_then(|q| q.lanes.get(&m.lane))
                else {
                    continue;
                };
                for set in &lane.tasks[usize::from(m.level) - 1..] {
                    if let Some(first) = set.first() {
                        if best.is_none_or(|b| *first < b) {
                            best = Some(*first);
                        }
                    }
                }
            }
            let Some((_, _, tid)) = best else {
                return;
            };
            self.unqueue(tid);
            if let Some(qid) = self.tasks.get(&tid).map(|t| t.queue) {
                if let Some(q) = self.queues.get_mut(&qid) {
                    q.last_offered = Some(aid);
                }
            }
            self.make_offer(now, tid, aid);
        }
    }

    /// After any change to an agent: re-sort them, report their state, and
    /// give them waiting tasks.
    fn agent_changed(&mut self, now: Instant, aid: AgentId) {
        self.reindex(aid);
        self.report(aid);
        self.route_agent(now, aid);
    }

    fn report(&mut self, aid: AgentId) {
        let Some(a) = self.agents.get_mut(&aid) else {
            return;
        };
        let state = a.state();
        if state != a.reported {
            a.reported = state.clone();
            self.out.push_back(Output::AgentState { agent: aid, state });
        }
    }

    /// Puts the agent in the available sets of every lane they can take a
    /// task of now, with fresh keys.
    fn reindex(&mut self, aid: AgentId) {
        let Some(a) = self.agents.get_mut(&aid) else {
            return;
        };
        for m in mem::take(&mut a.memberships) {
            if let Some(lane) = self
                .queues
                .get_mut(&m.queue)
                .and_then(|q| q.lanes.get_mut(&m.lane))
            {
                lane.agents[usize::from(m.level) - 1].remove(&m.key);
            }
        }
        let mut memberships = Vec::new();
        for channel in Channel::ALL {
            if !a.can_take(channel) {
                continue;
            }
            for (qid, level) in &a.config.queues {
                let Some(q) = self.queues.get_mut(qid) else {
                    continue;
                };
                let level = match q.config.strategy {
                    Strategy::Skills => (*level).clamp(1, MAX_LEVEL),
                    _ => 1,
                };
                for (lk, lane) in q.lanes.iter_mut() {
                    if lk.channel != channel || !a.has_skills(&lk.skills) {
                        continue;
                    }
                    let key = strategy::key(q.config.strategy, a, *qid, channel, &mut self.rng);
                    lane.agents[usize::from(level) - 1].insert(key);
                    memberships.push(Membership {
                        queue: *qid,
                        lane: lk.clone(),
                        level,
                        key,
                    });
                }
            }
        }
        a.memberships = memberships;
    }

    /// Creates the lane if new, filling it with the members who can take
    /// its tasks now.
    fn ensure_lane(&mut self, qid: QueueId, lane: &LaneKey) {
        let Some(q) = self.queues.get_mut(&qid) else {
            return;
        };
        if q.lanes.contains_key(lane) {
            return;
        }
        let mut new = Lane::default();
        for aid in self.members.get(&qid).into_iter().flatten() {
            let Some(a) = self.agents.get_mut(aid) else {
                continue;
            };
            if !a.can_take(lane.channel) || !a.has_skills(&lane.skills) {
                continue;
            }
            let level = match q.config.strategy {
                Strategy::Skills => a.level_in(qid).unwrap_or(1),
                _ => 1,
            };
            let key = strategy::key(q.config.strategy, a, qid, lane.channel, &mut self.rng);
            new.agents[usize::from(level) - 1].insert(key);
            a.memberships.push(Membership {
                queue: qid,
                lane: lane.clone(),
                level,
                key,
            });
        }
        q.lanes.insert(lane.clone(), new);
    }

    fn logged_in_members(&self, qid: QueueId) -> usize {
        self.members
            .get(&qid)
            .into_iter()
            .flatten()
            .filter(|a| self.agents.get(a).is_some_and(|a| a.logged_in))
            .count()
    }

    fn announce(&mut self, tid: TaskId) {
        let Some(position) = self.position(tid) else {
            return;
        };
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        let estimated_wait = self
            .queues
            .get(&t.queue)
            .and_then(|q| q.estimated_wait(position));
        self.out.push_back(Output::Announce {
            task: tid,
            position,
            estimated_wait,
        });
    }

    // ----- internals: timers -----------------------------------------------

    /// Whether a timer still refers to something current.
    fn is_live(&self, at: Instant, key: TimerKey) -> bool {
        let task_epoch = |tid: TaskId, epoch: u64| {
            self.tasks.get(&tid).is_some_and(|t| {
                t.epoch == epoch && !matches!(t.state, TaskState::Connected { .. })
            })
        };
        match key {
            TimerKey::Ring(offer) => self.offers.get(&offer).is_some_and(|o| o.deadline == at),
            TimerKey::Retry(tid) => self
                .tasks
                .get(&tid)
                .is_some_and(|t| t.state == TaskState::Cooling { until: at }),
            TimerKey::WrapUp(aid, id) => self
                .agents
                .get(&aid)
                .is_some_and(|a| a.wrapups.iter().any(|w| w.id == id && w.until == at)),
            TimerKey::Announce(tid, epoch) | TimerKey::MaxWait(tid, epoch) => {
                task_epoch(tid, epoch)
            }
            TimerKey::LevelUp(tid, epoch, level) => {
                task_epoch(tid, epoch)
                    && self.tasks.get(&tid).is_some_and(|t| {
                        t.level == level
                            && t.level < MAX_LEVEL
                            && self
                                .queues
                                .get(&t.queue)
                                .is_some_and(|q| q.config.strategy == Strategy::Skills)
                    })
            }
        }
    }

    /// Drops stale timers from the top of the heap, at most
    /// [`PRUNE_PER_DRAIN`] at a time so a drain costs O(log n): stale
    /// entries left over only make [`Router::poll_timeout`] early, and
    /// [`Router::handle_timeout`] drops them when they come due.
    fn prune_timers(&mut self) {
        for _ in 0..PRUNE_PER_DRAIN {
            match self.timers.next() {
                Some((at, key)) if !self.is_live(at, key) => self.timers.pop(),
                _ => break,
            }
        }
    }

    fn fire(&mut self, now: Instant, at: Instant, key: TimerKey) {
        if !self.is_live(at, key) {
            return;
        }
        match key {
            TimerKey::Ring(offer) => {
                if let Some(o) = self.offers.get(&offer).copied() {
                    self.out.push_back(Output::OfferCancelled {
                        offer,
                        task: o.task,
                        agent: o.agent,
                        reason: CancelReason::NoAnswer,
                    });
                }
                self.end_offer(now, offer, OfferEnd::Failed { miss: true });
            }
            TimerKey::Retry(tid) => self.route_task(now, tid),
            TimerKey::WrapUp(aid, id) => {
                let Some(a) = self.agents.get_mut(&aid) else {
                    return;
                };
                let Some(pos) = a.wrapups.iter().position(|w| w.id == id) else {
                    return;
                };
                let w = a.wrapups.swap_remove(pos);
                a.idle_since[w.channel.index()] = Some(now);
                if let Some(q) = self.queues.get_mut(&w.queue) {
                    q.record_handle(now.saturating_duration_since(w.answered_at));
                }
                self.agent_changed(now, aid);
            }
            TimerKey::Announce(tid, epoch) => {
                let Some(t) = self.tasks.get(&tid) else {
                    return;
                };
                let every = self
                    .queues
                    .get(&t.queue)
                    .and_then(|q| q.config.announce_interval);
                if !matches!(t.state, TaskState::Ringing(_)) {
                    self.announce(tid);
                }
                if let Some(every) = every.filter(|e| !e.is_zero()) {
                    self.timers
                        .arm(later(at, every), TimerKey::Announce(tid, epoch));
                }
            }
            TimerKey::MaxWait(tid, _) => {
                self.leave(now, tid, CancelReason::TaskLeft, LeaveReason::Timeout);
            }
            TimerKey::LevelUp(tid, epoch, _) => {
                let Some(t) = self.tasks.get(&tid) else {
                    return;
                };
                let queued = t.state == TaskState::Queued;
                if queued {
                    self.unqueue(tid);
                }
                let Some(t) = self.tasks.get_mut(&tid) else {
                    return;
                };
                t.level = (t.level + 1).min(MAX_LEVEL);
                let step = self
                    .queues
                    .get(&t.queue)
                    .map(|q| q.config.level_step)
                    .unwrap_or_default();
                if t.level < MAX_LEVEL {
                    let next = step.checked_mul(u32::from(t.level));
                    let at = next.map_or(at, |n| later(t.enqueued_at, n)).max(at);
                    self.timers.arm(at, TimerKey::LevelUp(tid, epoch, t.level));
                }
                if queued {
                    self.route_task(now, tid);
                }
            }
        }
    }
}
