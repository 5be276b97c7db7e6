//! Random sequences of arrivals, answers, failures, hang-ups, time, logins,
//! pauses, reachability flips, transfers and reloads, checked against a
//! model of what the router may and may not do.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::*;

const AGENTS: u32 = 4;
const QUEUES: u32 = 2;
const STEPS: usize = 250;
const SEEDS: u64 = 2_000;

const STRATEGIES: [Strategy; 6] = [
    Strategy::LongestIdle,
    Strategy::RoundRobin,
    Strategy::RingAll,
    Strategy::FewestCalls,
    Strategy::Random,
    Strategy::Skills,
];

#[derive(Default)]
struct AgentModel {
    logged_in: bool,
    paused: bool,
    reachable: [bool; CHANNELS],
    capacity: [u32; CHANNELS],
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TaskModel {
    Waiting(QueueId),
    Connected(AgentId, QueueId),
}

struct Model {
    seed: u64,
    now: Instant,
    agents: BTreeMap<AgentId, AgentModel>,
    tasks: BTreeMap<TaskId, (TaskModel, Channel)>,
    finished: BTreeSet<TaskId>,
    offers: HashMap<OfferId, (TaskId, AgentId, Channel)>,
    /// (agent, channel, until) of wrap-ups.
    wrapups: Vec<(AgentId, Channel, Instant)>,
    accepted: usize,
}

impl Model {
    fn load(&self, agent: AgentId, channel: Channel) -> u32 {
        let connected = self
            .tasks
            .values()
            .filter(|(s, c)| {
                *c == channel && matches!(s, TaskModel::Connected(a, _) if *a == agent)
            })
            .count();
        let ringing = self
            .offers
            .values()
            .filter(|(_, a, c)| *a == agent && *c == channel)
            .count();
        let wrapping = self
            .wrapups
            .iter()
            .filter(|(a, c, until)| *a == agent && *c == channel && *until > self.now)
            .count();
        (connected + ringing + wrapping) as u32
    }

    /// Applies the router's outputs, checking each.
    fn apply(&mut self, outputs: Vec<Output>) {
        let seed = self.seed;
        for out in outputs {
            match out {
                Output::Offer {
                    offer,
                    task,
                    agent,
                    channel,
                } => {
                    let a = &self.agents[&agent];
                    assert!(a.logged_in, "seed {seed}: offer to logged-out {agent}");
                    assert!(!a.paused, "seed {seed}: offer to paused {agent}");
                    assert!(
                        a.reachable[channel.index()],
                        "seed {seed}: offer to unreachable {agent}"
                    );
                    let load = self.load(agent, channel);
                    assert!(
                        load < a.capacity[channel.index()],
                        "seed {seed}: offer to {agent} at capacity ({load}) on {channel:?}"
                    );
                    let (state, c) = self.tasks[&task];
                    assert!(
                        matches!(state, TaskModel::Waiting(_)),
                        "seed {seed}: offer of connected {task}"
                    );
                    assert_eq!(c, channel);
                    assert!(
                        !self
                            .offers
                            .values()
                            .any(|(t, a, _)| *t == task && *a == agent),
                        "seed {seed}: {task} offered twice to {agent}"
                    );
                    self.offers.insert(offer, (task, agent, channel));
                }
                Output::OfferCancelled { offer, .. } => {
                    assert!(
                        self.offers.remove(&offer).is_some(),
                        "seed {seed}: cancel of unknown {offer}"
                    );
                }
                Output::TaskAssigned { task, agent, queue } => {
                    let entry = self.tasks.get_mut(&task).expect("assigned unknown task");
                    assert_eq!(entry.0, TaskModel::Waiting(queue), "seed {seed}");
                    entry.0 = TaskModel::Connected(agent, queue);
                }
                Output::TaskLeft { task, queue, .. } => {
                    let (state, _) = self.tasks.remove(&task).expect("unknown task left");
                    assert_eq!(state, TaskModel::Waiting(queue), "seed {seed}");
                    assert!(
                        !self.offers.values().any(|(t, _, _)| *t == task),
                        "seed {seed}: {task} left with a live offer"
                    );
                    assert!(
                        self.finished.insert(task),
                        "seed {seed}: {task} ended twice"
                    );
                }
                Output::Announce { task, position, .. } => {
                    assert!(position >= 1);
                    assert!(
                        matches!(self.tasks.get(&task), Some((TaskModel::Waiting(_), _))),
                        "seed {seed}: announce for {task} not waiting"
                    );
                }
                Output::AgentState { agent, state } => {
                    let a = self.agents.get_mut(&agent).unwrap();
                    match state {
                        AgentState::Paused(_) => a.paused = true,
                        AgentState::LoggedOut => a.logged_in = false,
                        _ => {}
                    }
                }
            }
        }
        // Never two live offers to one voice agent.
        let mut voice = BTreeSet::new();
        for (_, agent, channel) in self.offers.values() {
            if *channel == Channel::Voice {
                assert!(
                    voice.insert(*agent),
                    "seed {seed}: two voice offers to {agent}"
                );
            }
        }
    }
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.usize(..items.len())])
}

fn random_queue(rng: &mut fastrand::Rng) -> QueueConfig {
    QueueConfig {
        strategy: STRATEGIES[rng.usize(..STRATEGIES.len())],
        max_waiting: rng.bool().then(|| rng.usize(1..6)),
        max_wait: rng.bool().then(|| Duration::from_secs(rng.u64(20..120))),
        join_when_empty: rng.bool(),
        leave_when_empty: rng.bool(),
        announce_interval: rng.bool().then_some(Duration::from_secs(30)),
        level_step: Duration::from_secs(rng.u64(0..40)),
        ..QueueConfig::default()
    }
}

fn run(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let t0 = Instant::now();
    let mut router = Router::new(seed);
    let wrap = Duration::from_secs(rng.u64(0..3) * 5);
    let mut m = Model {
        seed,
        now: t0,
        agents: BTreeMap::new(),
        tasks: BTreeMap::new(),
        finished: BTreeSet::new(),
        offers: HashMap::new(),
        wrapups: Vec::new(),
        accepted: 0,
    };
    for q in 0..QUEUES {
        let cfg = QueueConfig {
            wrap_up: wrap,
            ..random_queue(&mut rng)
        };
        router.upsert_queue(t0, QueueId(q), cfg);
    }
    for a in 0..AGENTS {
        let mut cfg = AgentConfig::default();
        for q in 0..QUEUES {
            if rng.u8(0..3) > 0 {
                cfg.queues.insert(QueueId(q), rng.u8(1..4));
            }
        }
        if rng.bool() {
            cfg.skills.insert("es".into());
        }
        if rng.bool() {
            cfg.capacity.set(Channel::Chat, rng.u32(0..4));
        }
        let mut am = AgentModel {
            reachable: [true; CHANNELS],
            ..AgentModel::default()
        };
        for ch in Channel::ALL {
            am.capacity[ch.index()] = cfg.capacity.get(ch);
        }
        m.agents.insert(AgentId(a), am);
        router.upsert_agent(t0, AgentId(a), cfg);
    }
    let mut next_task = 0u64;
    let drain =
        |router: &mut Router| std::iter::from_fn(|| router.poll_output()).collect::<Vec<_>>();
    for _ in 0..STEPS {
        let now = m.now;
        let agent = AgentId(rng.u32(..AGENTS));
        let live: Vec<OfferId> = m.offers.keys().copied().collect();
        let waiting: Vec<TaskId> = m
            .tasks
            .iter()
            .filter(|(_, (s, _))| matches!(s, TaskModel::Waiting(_)))
            .map(|(t, _)| *t)
            .collect();
        let connected: Vec<TaskId> = m
            .tasks
            .iter()
            .filter(|(_, (s, _))| matches!(s, TaskModel::Connected(..)))
            .map(|(t, _)| *t)
            .collect();
        match rng.u8(0..14) {
            0 | 1 => {
                next_task += 1;
                let channel = if rng.bool() {
                    Channel::Voice
                } else {
                    Channel::Chat
                };
                let queue = QueueId(rng.u32(..QUEUES));
                let mut spec =
                    TaskSpec::new(TaskId(next_task), queue, channel).with_priority(rng.i32(0..3));
                if rng.u8(0..4) == 0 {
                    spec = spec.with_skill("es");
                }
                if router.enqueue(now, spec).is_ok() {
                    m.accepted += 1;
                    m.tasks
                        .insert(TaskId(next_task), (TaskModel::Waiting(queue), channel));
                }
            }
            2 | 3 => {
                if let Some(offer) = pick(&mut rng, &live) {
                    router.offer_accepted(now, offer).unwrap();
                    m.offers.remove(&offer);
                }
            }
            4 => {
                if let Some(offer) = pick(&mut rng, &live) {
                    let failure = [
                        OfferFailure::NoAnswer,
                        OfferFailure::Busy,
                        OfferFailure::Declined,
                        OfferFailure::Unreachable,
                    ][rng.usize(..4)];
                    router.offer_failed(now, offer, failure).unwrap();
                    let (_, a, ch) = m.offers.remove(&offer).unwrap();
                    if failure == OfferFailure::Unreachable {
                        m.agents.get_mut(&a).unwrap().reachable[ch.index()] = false;
                    }
                }
            }
            5 | 6 => {
                // Advance time, firing timers as an engine would.
                let target = now + Duration::from_millis(rng.u64(0..30_000));
                while let Some(due) = router.poll_timeout().filter(|d| *d <= target) {
                    m.now = due.max(m.now);
                    router.handle_timeout(m.now);
                    let out = drain(&mut router);
                    m.apply(out);
                }
                m.now = target;
                router.handle_timeout(target);
            }
            7 => {
                if let Some(task) = pick(&mut rng, &waiting) {
                    router.abandon(now, task).unwrap();
                }
            }
            8 => {
                if let Some(task) = pick(&mut rng, &connected) {
                    let (TaskModel::Connected(a, _), ch) = m.tasks[&task] else {
                        unreachable!()
                    };
                    router.task_ended(now, task).unwrap();
                    m.tasks.remove(&task);
                    m.finished.insert(task);
                    if m.agents[&a].logged_in && !wrap.is_zero() {
                        m.wrapups.push((a, ch, now + wrap));
                    }
                }
            }
            9 => {
                let am = m.agents.get_mut(&agent).unwrap();
                if am.logged_in {
                    router.logout(now, agent).unwrap();
                    am.logged_in = false;
                    am.paused = false;
                } else {
                    router.login(now, agent).unwrap();
                    am.logged_in = true;
                    am.paused = false;
                }
            }
            10 => {
                let am = m.agents.get_mut(&agent).unwrap();
                if rng.bool() {
                    let ok = router.pause(now, agent, "break".into()).is_ok();
                    assert_eq!(ok, am.logged_in, "seed {seed}");
                    am.paused |= ok;
                } else if router.resume(now, agent).is_ok() {
                    am.paused = false;
                }
            }
            11 => {
                let ch = if rng.bool() {
                    Channel::Voice
                } else {
                    Channel::Chat
                };
                let on = rng.bool();
                router.set_reachable(now, agent, ch, on).unwrap();
                m.agents.get_mut(&agent).unwrap().reachable[ch.index()] = on;
            }
            12 => {
                if let Some(task) = pick(&mut rng, &connected) {
                    let (TaskModel::Connected(from, _), ch) = m.tasks[&task] else {
                        unreachable!()
                    };
                    let result = if rng.bool() {
                        let q = QueueId(rng.u32(..QUEUES));
                        router.transfer_to_queue(now, task, q).map(|_| q)
                    } else {
                        let q = match m.tasks[&task].0 {
                            TaskModel::Connected(_, q) => q,
                            TaskModel::Waiting(q) => q,
                        };
                        router.offer_direct(now, task, agent).map(|_| q)
                    };
                    if let Ok(q) = result {
                        m.tasks.insert(task, (TaskModel::Waiting(q), ch));
                        if m.agents[&from].logged_in && !wrap.is_zero() {
                            m.wrapups.push((from, ch, now + wrap));
                        }
                    }
                }
            }
            _ => {
                let q = QueueId(rng.u32(..QUEUES));
                let cfg = QueueConfig {
                    wrap_up: wrap,
                    ..random_queue(&mut rng)
                };
                router.upsert_queue(now, q, cfg);
            }
        }
        let out = drain(&mut router);
        m.apply(out);
        check_counters(&router, &m);
        if let Err(e) = router.check_invariants() {
            panic!("seed {seed}: {e}");
        }
    }
    // Wind down: every task ends exactly once.
    let tasks: Vec<TaskId> = m.tasks.keys().copied().collect();
    for task in tasks {
        router.abandon(m.now, task).unwrap();
        let out = drain(&mut router);
        if let Some((TaskModel::Connected(..), _)) = m.tasks.get(&task) {
            m.tasks.remove(&task);
            m.finished.insert(task);
        }
        m.apply(out);
    }
    assert!(m.tasks.is_empty(), "seed {seed}");
    assert_eq!(
        router.task_count(),
        0,
        "seed {seed}: the router still holds tasks"
    );
    assert!(m.offers.is_empty(), "seed {seed}: offers left");
    assert_eq!(m.finished.len(), m.accepted, "seed {seed}");
}

fn check_counters(router: &Router, m: &Model) {
    for q in 0..QUEUES {
        let status = router.queue_status(m.now, QueueId(q)).unwrap();
        let c = status.counters;
        let waiting = status.waiting.len() as u64;
        assert_eq!(
            c.entered,
            c.answered + c.abandoned + c.timed_out + c.left_empty + waiting,
            "seed {}: counters of queue {q}: {c:?} waiting {waiting}",
            m.seed
        );
        let model_waiting = m
            .tasks
            .values()
            .filter(|(s, _)| *s == TaskModel::Waiting(QueueId(q)))
            .count() as u64;
        assert_eq!(waiting, model_waiting, "seed {}", m.seed);
        for (i, w) in status.waiting.iter().enumerate() {
            assert_eq!(w.position, i + 1);
            assert_eq!(router.position(w.task), Some(i + 1));
        }
    }
    for (id, a) in &m.agents {
        let state = router.agent_state(*id).unwrap();
        assert_eq!(
            state == AgentState::LoggedOut,
            !a.logged_in,
            "seed {}: {id} {state:?}",
            m.seed
        );
        assert_eq!(
            matches!(state, AgentState::Paused(_)),
            a.logged_in && a.paused,
            "seed {}: {id} {state:?}",
            m.seed
        );
    }
}

#[test]
fn random_sequences_keep_every_promise() {
    for seed in 0..SEEDS {
        run(seed);
    }
}
