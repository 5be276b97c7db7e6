//! Routing decisions with 10,000 agents and 100,000 waiting tasks.
//!
//! 100 queues of 100 agents each. Queues 0..90 are saturated: every agent
//! is on a task and 100,000 tasks wait. Queues 90..100 have their agents
//! available. Measured:
//! - `agent_available_to_offer`: a task ends (no wrap-up), the agent is
//!   available and gets the next waiting task;
//! - `enqueue_with_agents_available`: a task arrives in a queue with
//!   available agents and is offered at once;
//! - `offer_accepted`: the agent answers.
//!
//! Before the criterion runs, each operation is also timed one by one
//! to print its p50/p99.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ura_router::{
    AgentConfig, AgentId, Channel, OfferId, Output, QueueConfig, QueueId, Router, TaskId, TaskSpec,
};

const QUEUES: u32 = 100;
const BUSY_QUEUES: u32 = 90;
const AGENTS: u32 = 10_000;
const WAITING: u64 = 100_000;

struct World {
    router: Router,
    now: Instant,
    next_task: u64,
    /// Connected tasks of the saturated queues: (task, queue).
    connected: VecDeque<(TaskId, QueueId)>,
    /// Round-robin over the idle queues for arrivals.
    next_idle: u32,
}

fn drain_offer(router: &mut Router) -> Option<OfferId> {
    let mut offer = None;
    while let Some(out) = router.poll_output() {
        if let Output::Offer { offer: o, .. } = out {
            offer = Some(o);
        }
    }
    offer
}

impl World {
    fn new() -> Self {
        let now = Instant::now();
        let mut router = Router::new(1);
        let cfg = QueueConfig {
            wrap_up: Duration::ZERO,
            ..QueueConfig::default()
        };
        for q in 0..QUEUES {
            router.upsert_queue(now, QueueId(q), cfg.clone());
        }
        for a in 0..AGENTS {
            let cfg = AgentConfig::in_queues(format!("agent{a}"), [QueueId(a % QUEUES)]);
            router.upsert_agent(now, AgentId(a), cfg);
            router.login(now, AgentId(a)).unwrap();
        }
        while router.poll_output().is_some() {}
        let mut world = Self {
            router,
            now,
            next_task: 0,
            connected: VecDeque::new(),
            next_idle: BUSY_QUEUES,
        };
        // Fill every agent of the busy queues, then the waiting tasks.
        for q in 0..BUSY_QUEUES {
            for _ in 0..AGENTS / QUEUES {
                let task = world.enqueue(QueueId(q));
                let offer = drain_offer(&mut world.router).expect("an offer");
                world.router.offer_accepted(now, offer).unwrap();
                while world.router.poll_output().is_some() {}
                world.connected.push_back((task, QueueId(q)));
            }
        }
        for i in 0..WAITING {
            world.enqueue(QueueId(i as u32 % BUSY_QUEUES));
            while world.router.poll_output().is_some() {}
        }
        world
    }

    fn enqueue(&mut self, queue: QueueId) -> TaskId {
        self.next_task += 1;
        let task = TaskId(self.next_task);
        self.router
            .enqueue(self.now, TaskSpec::new(task, queue, Channel::Voice))
            .unwrap();
        task
    }

    fn tick(&mut self) {
        self.now += Duration::from_micros(1);
    }

    /// Ends a connected task: the agent takes the next waiting one.
    fn end_one(&mut self) -> (OfferId, TaskId, QueueId) {
        self.tick();
        let (task, queue) = self.connected.pop_front().unwrap();
        self.router.task_ended(self.now, task).unwrap();
        let mut next = None;
        while let Some(out) = self.router.poll_output() {
            if let Output::Offer { offer, task, .. } = out {
                next = Some((offer, task));
            }
        }
        let (offer, task) = next.expect("the freed agent gets a waiting task");
        (offer, task, queue)
    }

    fn accept(&mut self, offer: OfferId, task: TaskId, queue: QueueId) {
        self.router.offer_accepted(self.now, offer).unwrap();
        while self.router.poll_output().is_some() {}
        self.connected.push_back((task, queue));
    }

    /// Keeps the number of waiting tasks constant.
    fn refill(&mut self, queue: QueueId) {
        self.enqueue(queue);
        while self.router.poll_output().is_some() {}
    }

    fn arrive_idle(&mut self) -> TaskId {
        self.tick();
        let queue = QueueId(self.next_idle);
        self.next_idle = if self.next_idle + 1 == QUEUES {
            BUSY_QUEUES
        } else {
            self.next_idle + 1
        };
        let task = self.enqueue(queue);
        drain_offer(&mut self.router).expect("offered at once");
        task
    }

    fn hang_up(&mut self, task: TaskId) {
        self.router.abandon(self.now, task).unwrap();
        while self.router.poll_output().is_some() {}
    }
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{name}: p50 {:?} p99 {:?} max {:?} ({} samples)",
        at(0.5),
        at(0.99),
        samples[samples.len() - 1],
        samples.len()
    );
}

fn latency_check(world: &mut World) {
    const N: usize = 20_000;
    let (mut avail, mut accept, mut arrive) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..N {
        let start = Instant::now();
        let (offer, task, queue) = world.end_one();
        avail.push(start.elapsed());
        let start = Instant::now();
        world.accept(offer, task, queue);
        accept.push(start.elapsed());
        world.refill(queue);
        let start = Instant::now();
        let task = world.arrive_idle();
        arrive.push(start.elapsed());
        world.hang_up(task);
    }
    percentiles("agent_available_to_offer", avail);
    percentiles("enqueue_with_agents_available", arrive);
    percentiles("offer_accepted", accept);
}

fn bench(c: &mut Criterion) {
    let mut world = World::new();
    latency_check(&mut world);
    c.bench_function("agent_available_to_offer", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let (offer, task, queue) = black_box(world.end_one());
                total += start.elapsed();
                world.accept(offer, task, queue);
                world.refill(queue);
            }
            total
        })
    });
    c.bench_function("enqueue_with_agents_available", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let task = black_box(world.arrive_idle());
                total += start.elapsed();
                world.hang_up(task);
            }
            total
        })
    });
    c.bench_function("offer_accepted", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (offer, task, queue) = world.end_one();
                let start = Instant::now();
                world.accept(offer, task, queue);
                total += start.elapsed();
                world.refill(queue);
            }
            total
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
