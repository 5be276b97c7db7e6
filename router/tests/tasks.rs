//! Abandons, transfers and the queue view.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn abandon_while_waiting() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    sim.enqueue(1, Q1);
    sim.enqueue(2, Q1);
    sim.router.abandon(sim.now, TaskId(1)).unwrap();
    assert_eq!(left(&sim.drain()), vec![(1, LeaveReason::Abandoned)]);
    assert_eq!(sim.router.position(TaskId(2)), Some(1));
    assert!(sim.router.abandon(sim.now, TaskId(1)).is_err());
    let c = sim.router.queue_counters(Q1).unwrap();
    assert_eq!((c.entered, c.abandoned), (2, 1));
}

#[test]
fn abandon_while_ringing_cancels_the_offer() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let offer = offers(&sim.enqueue(1, Q1))[0].0;
    sim.router.abandon(sim.now, TaskId(1)).unwrap();
    let out = sim.drain();
    assert_eq!(cancels(&out), vec![(offer, CancelReason::Abandoned)]);
    assert_eq!(left(&out), vec![(1, LeaveReason::Abandoned)]);
    assert_eq!(states(&out, 1), vec![AgentState::Available]);
    // No ring timeout afterwards.
    assert!(sim.advance(30.0).is_empty());
    assert!(sim.router.offer_accepted(sim.now, offer).is_err());
}

#[test]
fn transfer_to_queue() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.queue(Q2, QueueConfig::default());
    sim.agents(Q1, &[1]);
    sim.agents(Q2, &[5]);
    let out = sim.enqueue(1, Q1);
    sim.accept(offers(&out)[0].0);
    sim.advance(30.0);
    sim.router
        .transfer_to_queue(sim.now, TaskId(1), Q2)
        .unwrap();
    let out = sim.drain();
    assert_eq!(states(&out, 1), vec![AgentState::WrapUp]);
    assert_eq!(offered_agents(&out), vec![5]);
    let out = sim.accept(offers(&out)[0].0);
    assert!(out.contains(&Output::TaskAssigned {
        task: TaskId(1),
        agent: AgentId(5),
        queue: Q2
    }));
    assert_eq!(sim.router.queue_counters(Q1).unwrap().answered, 1);
    assert_eq!(sim.router.queue_counters(Q2).unwrap().entered, 1);
    // Not connected any more to agent 1; a waiting task can't be moved.
    sim.router.pause(sim.now, AgentId(5), "x".into()).unwrap();
    assert_eq!(
        sim.router.transfer_to_queue(sim.now, TaskId(7), Q2),
        Err(RouterError::UnknownTask(TaskId(7)))
    );
}

#[test]
fn transfer_to_a_full_queue_is_refused_and_the_task_stays() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.queue(Q2, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    sim.accept(offers(&out)[0].0);
    assert_eq!(
        sim.router.transfer_to_queue(sim.now, TaskId(1), Q2),
        Err(RouterError::NobodyLoggedIn(Q2))
    );
    assert_eq!(sim.router.agent_state(AgentId(1)), Some(AgentState::Busy));
}

#[test]
fn direct_offer_and_fallback_to_the_queue() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2, 3]);
    let out = sim.enqueue(1, Q1);
    assert_eq!(offered_agents(&out), vec![1]);
    sim.accept(offers(&out)[0].0);
    // Agent 2 is idle longer than 3, but the transfer names agent 3.
    sim.router
        .offer_direct(sim.now, TaskId(1), AgentId(3))
        .unwrap();
    let out = sim.drain();
    assert_eq!(offered_agents(&out), vec![3]);
    assert_eq!(states(&out, 1), vec![AgentState::WrapUp]);
    let offer = offers(&out)[0].0;
    sim.router
        .offer_failed(sim.now, offer, OfferFailure::Declined)
        .unwrap();
    assert!(offers(&sim.drain()).is_empty());
    assert_eq!(offered_agents(&sim.advance(5.0)), vec![2]);
}

#[test]
fn direct_offer_to_an_unavailable_agent_is_refused() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2]);
    let out = sim.enqueue(1, Q1);
    sim.accept(offers(&out)[0].0);
    sim.router.pause(sim.now, AgentId(2), "x".into()).unwrap();
    assert_eq!(
        sim.router.offer_direct(sim.now, TaskId(1), AgentId(2)),
        Err(RouterError::AgentUnavailable(AgentId(2)))
    );
    assert_eq!(
        sim.router.offer_direct(sim.now, TaskId(1), AgentId(1)),
        Err(RouterError::AgentUnavailable(AgentId(1)))
    );
    assert_eq!(sim.router.agent_state(AgentId(1)), Some(AgentState::Busy));
}

#[test]
fn queue_status_and_service_level() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    sim.advance(4.0);
    sim.accept(offers(&out)[0].0);
    sim.enqueue(2, Q1);
    sim.advance(10.0);
    sim.enqueue(3, Q1);
    sim.router.abandon(sim.now, TaskId(3)).unwrap();
    sim.enqueue(4, Q1);
    let status = sim.router.queue_status(sim.at_ms(15_000), Q1).unwrap();
    let waiting: Vec<(u64, usize, Duration)> = status
        .waiting
        .iter()
        .map(|w| (w.task.0, w.position, w.waited))
        .collect();
    assert_eq!(
        waiting,
        vec![
            (2, 1, Duration::from_secs(11)),
            (4, 2, Duration::from_secs(5))
        ]
    );
    assert_eq!(status.agents, vec![(AgentId(1), AgentState::Busy)]);
    assert_eq!(status.logged_in, 1);
    let c = status.counters;
    assert_eq!((c.entered, c.answered, c.abandoned), (4, 1, 1));
    assert_eq!(status.service_level, Some(50.0));
    assert_eq!(status.average_wait, Some(Duration::from_secs(4)));
    assert_eq!(status.average_handle, None);
}

#[test]
fn positions_stay_right_with_many_tasks_and_priorities() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        join_when_empty: true,
        announce_interval: None,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    let mut rng = fastrand::Rng::with_seed(3);
    let mut alive = Vec::new();
    for task in 0..6_000u64 {
        let spec = TaskSpec::new(TaskId(task), Q1, Channel::Voice).with_priority(rng.i32(0..3));
        sim.router.enqueue(sim.now, spec).unwrap();
        alive.push(task);
        // Mostly the oldest leave, so slots go dead and get renumbered.
        if rng.u8(0..10) < 8 {
            let i = if rng.bool() {
                0
            } else {
                rng.usize(..alive.len())
            };
            let gone = alive.remove(i);
            sim.router.abandon(sim.now, TaskId(gone)).unwrap();
        }
        if task % 500 == 0 {
            let status = sim.router.queue_status(sim.now, Q1).unwrap();
            for w in &status.waiting {
                assert_eq!(sim.router.position(w.task), Some(w.position));
            }
        }
    }
    sim.drain();
    let status = sim.router.queue_status(sim.now, Q1).unwrap();
    assert_eq!(status.waiting.len(), alive.len());
    for w in &status.waiting {
        assert_eq!(sim.router.position(w.task), Some(w.position));
    }
}
