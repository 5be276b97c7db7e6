//! Each strategy offers the task to the agent it should.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

fn no_wrap(strategy: Strategy) -> QueueConfig {
    QueueConfig {
        wrap_up: Duration::ZERO,
        ..QueueConfig::with_strategy(strategy)
    }
}

/// Offers task `task`, answers it and ends it at once; returns the agent.
fn serve(sim: &mut Sim, task: u64) -> u32 {
    let out = sim.enqueue(task, Q1);
    let (offer, _, agent) = offers(&out)[0];
    sim.accept(offer);
    sim.router.task_ended(sim.now, TaskId(task)).unwrap();
    sim.drain();
    agent.0
}

#[test]
fn longest_idle_picks_the_agent_idle_longest() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[3]);
    sim.advance(1.0);
    sim.agents(Q1, &[1]);
    sim.advance(2.0);
    sim.agents(Q1, &[2]);
    let out = sim.enqueue(10, Q1);
    assert_eq!(offered_agents(&out), vec![3]);
    sim.accept(offers(&out)[0].0);
    sim.router.task_ended(sim.now, TaskId(10)).unwrap();
    sim.advance(12.0); // agent 3's wrap-up ends: now idle the shortest
    assert_eq!(offered_agents(&sim.enqueue(11, Q1)), vec![1]);
    assert_eq!(offered_agents(&sim.enqueue(12, Q1)), vec![2]);
    assert_eq!(offered_agents(&sim.enqueue(13, Q1)), vec![3]);
}

#[test]
fn round_robin_rotates_and_remembers_the_position() {
    let mut sim = Sim::new();
    sim.queue(Q1, no_wrap(Strategy::RoundRobin));
    sim.agents(Q1, &[1, 2, 3]);
    let picked: Vec<u32> = (0..7).map(|t| serve(&mut sim, t)).collect();
    assert_eq!(picked, vec![1, 2, 3, 1, 2, 3, 1]);
    // Agent 2 paused: skipped, the turn continues after it.
    sim.router
        .pause(sim.now, AgentId(2), "lunch".into())
        .unwrap();
    let picked: Vec<u32> = (10..13).map(|t| serve(&mut sim, t)).collect();
    assert_eq!(picked, vec![3, 1, 3]);
}

#[test]
fn ring_all_offers_everyone_and_cancels_the_rest_on_answer() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::RingAll));
    sim.agents(Q1, &[1, 2, 3]);
    let out = sim.enqueue(1, Q1);
    let mut agents = offered_agents(&out);
    agents.sort();
    assert_eq!(agents, vec![1, 2, 3]);
    let of2 = offers(&out)
        .into_iter()
        .find(|o| o.2 == AgentId(2))
        .unwrap();
    let out = sim.accept(of2.0);
    assert!(out.contains(&Output::TaskAssigned {
        task: TaskId(1),
        agent: AgentId(2),
        queue: Q1
    }));
    let cancelled = cancels(&out);
    assert_eq!(cancelled.len(), 2);
    assert!(cancelled
        .iter()
        .all(|(o, r)| *o != of2.0 && *r == CancelReason::AnsweredElsewhere));
    assert_eq!(
        sim.router.agent_state(AgentId(1)),
        Some(AgentState::Available)
    );
    assert_eq!(sim.router.agent_state(AgentId(2)), Some(AgentState::Busy));
    // The next task rings the two still free.
    let mut agents = offered_agents(&sim.enqueue(2, Q1));
    agents.sort();
    assert_eq!(agents, vec![1, 3]);
}

#[test]
fn ring_all_times_out_once_when_nobody_answers() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::RingAll));
    sim.agents(Q1, &[1, 2]);
    sim.enqueue(1, Q1);
    let out = sim.advance(20.0);
    assert_eq!(cancels(&out).len(), 2);
    assert!(offers(&out).is_empty());
    let out = sim.advance(25.0);
    assert_eq!(offers(&out).len(), 2);
}

#[test]
fn fewest_calls_picks_the_agent_with_fewest_answered() {
    let mut sim = Sim::new();
    sim.queue(Q1, no_wrap(Strategy::FewestCalls));
    sim.agents(Q1, &[1, 2]);
    let picked: Vec<u32> = (0..4).map(|t| serve(&mut sim, t)).collect();
    assert_eq!(picked, vec![1, 2, 1, 2]);
    sim.advance(5.0);
    sim.agents(Q1, &[3]);
    // Agent 3 logged in last (idle shortest) but has no calls.
    let picked: Vec<u32> = (10..13).map(|t| serve(&mut sim, t)).collect();
    assert_eq!(picked, vec![3, 3, 1]);
}

fn random_picks(seed: u64) -> Vec<u32> {
    let mut sim = Sim::new();
    sim.router = Router::new(seed);
    sim.queue(Q1, no_wrap(Strategy::Random));
    sim.agents(Q1, &[1, 2, 3, 4]);
    (0..40).map(|t| serve(&mut sim, t)).collect()
}

#[test]
fn random_is_seeded_and_reaches_everyone() {
    let a = random_picks(1);
    assert_eq!(a, random_picks(1));
    assert_ne!(a, random_picks(2));
    for agent in 1..=4 {
        assert!(a.contains(&agent), "agent {agent} never picked: {a:?}");
    }
}

#[test]
fn skills_level_one_first_then_level_two_after_the_step() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::Skills));
    // Agent 2 (level 2) is idle longer than agent 1 (level 1).
    let l2 = AgentConfig {
        queues: BTreeMap::from([(Q1, 2)]),
        ..AgentConfig::default()
    };
    sim.router.upsert_agent(sim.now, AgentId(2), l2);
    sim.router.login(sim.now, AgentId(2)).unwrap();
    sim.advance(1.0);
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    assert_eq!(offered_agents(&out), vec![1]);
    sim.accept(offers(&out)[0].0);
    // Agent 1 is busy: the next task waits for level 2 until 30 s.
    sim.advance(2.0);
    assert!(offers(&sim.enqueue(2, Q1)).is_empty());
    assert!(offers(&sim.advance_ms(31_999)).is_empty());
    assert_eq!(offered_agents(&sim.advance(32.0)), vec![2]);
}

#[test]
fn skills_level_two_agent_takes_only_tasks_old_enough() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::Skills));
    sim.enqueue_ok_empty();
    let l2 = AgentConfig::default().with_queue(Q1, 2);
    sim.router.upsert_agent(sim.now, AgentId(2), l2);
    sim.router.login(sim.now, AgentId(2)).unwrap();
    // Nobody was logged in; join_when_empty allowed task 1 at 0 s.
    assert!(offers(&sim.drain()).is_empty());
    assert_eq!(offered_agents(&sim.advance(30.0)), vec![2]);
}

trait EmptyJoin {
    fn enqueue_ok_empty(&mut self);
}

impl EmptyJoin for Sim {
    fn enqueue_ok_empty(&mut self) {
        let cfg = QueueConfig {
            join_when_empty: true,
            ..QueueConfig::with_strategy(Strategy::Skills)
        };
        self.queue(Q1, cfg);
        self.enqueue(1, Q1);
    }
}

#[test]
fn required_skills_are_honoured() {
    for strategy in [Strategy::LongestIdle, Strategy::Skills, Strategy::RingAll] {
        let mut sim = Sim::new();
        sim.queue(Q1, QueueConfig::with_strategy(strategy));
        sim.agents(Q1, &[1]);
        sim.advance(1.0);
        let es = AgentConfig::in_queues("es", [Q1]).with_skill("es");
        sim.router.upsert_agent(sim.now, AgentId(2), es);
        sim.router.login(sim.now, AgentId(2)).unwrap();
        sim.drain();
        let spec = TaskSpec::new(TaskId(1), Q1, Channel::Voice).with_skill("es");
        sim.router.enqueue(sim.now, spec).unwrap();
        assert_eq!(offered_agents(&sim.drain()), vec![2], "{strategy:?}");
        let spec = TaskSpec::new(TaskId(2), Q1, Channel::Voice).with_skill("fr");
        sim.router.enqueue(sim.now, spec).unwrap();
        assert!(offers(&sim.drain()).is_empty(), "{strategy:?}");
    }
}

#[test]
fn higher_priority_is_served_first_then_fifo() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    for (task, prio) in [(1, 0), (2, 5), (3, 0), (4, 5)] {
        let spec = TaskSpec::new(TaskId(task), Q1, Channel::Voice).with_priority(prio);
        sim.router.enqueue(sim.now, spec).unwrap();
    }
    assert_eq!(sim.router.position(TaskId(2)), Some(1));
    assert_eq!(sim.router.position(TaskId(4)), Some(2));
    assert_eq!(sim.router.position(TaskId(1)), Some(3));
    assert_eq!(sim.router.position(TaskId(3)), Some(4));
    sim.drain();
    let mut order = Vec::new();
    sim.router.resume(sim.now, AgentId(1)).unwrap();
    for _ in 0..4 {
        let out = sim.drain();
        let (offer, task, _) = offers(&out)[0];
        order.push(task.0);
        sim.router.offer_accepted(sim.now, offer).unwrap();
        sim.router.task_ended(sim.now, task).unwrap();
        let t = sim.now + std::time::Duration::from_secs(10);
        sim.now = t;
        sim.router.handle_timeout(t);
    }
    assert_eq!(order, vec![2, 4, 1, 3]);
}
