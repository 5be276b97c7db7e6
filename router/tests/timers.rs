//! Every timer fires exactly at its instant, not a millisecond before.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn ring_timeout_at_20_s_then_retry_after_5_s() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    let (offer, _, _) = offers(&out)[0];
    assert_eq!(sim.router.poll_timeout(), Some(sim.at_ms(20_000)));
    assert!(sim.advance_ms(19_999).is_empty());
    let out = sim.advance_ms(20_000);
    assert_eq!(cancels(&out), vec![(offer, CancelReason::NoAnswer)]);
    assert_eq!(sim.router.agent_counters(AgentId(1)).unwrap().missed, 1);
    assert!(offers(&sim.advance_ms(24_999)).is_empty());
    let out = sim.advance_ms(25_000);
    assert_eq!(offered_agents(&out), vec![1]);
    // A stale answer to the cancelled offer is refused.
    assert_eq!(
        sim.router.offer_accepted(sim.now, offer),
        Err(RouterError::UnknownOffer(offer))
    );
}

#[test]
fn failed_offer_goes_to_another_agent_after_the_retry_delay() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    sim.advance(1.0);
    sim.agents(Q1, &[2]);
    let out = sim.enqueue(1, Q1);
    let (offer, _, agent) = offers(&out)[0];
    assert_eq!(agent, AgentId(1));
    sim.advance(3.0);
    sim.router
        .offer_failed(sim.now, offer, OfferFailure::Declined)
        .unwrap();
    assert!(offers(&sim.drain()).is_empty());
    assert!(offers(&sim.advance_ms(7_999)).is_empty());
    // Agent 1 is still idle longer, but just missed this task.
    assert_eq!(offered_agents(&sim.advance(8.0)), vec![2]);
}

#[test]
fn wrap_up_lasts_10_s() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    let out = sim.accept(offers(&out)[0].0);
    assert_eq!(states(&out, 1), vec![AgentState::Busy]);
    sim.advance(5.0);
    sim.router.task_ended(sim.now, TaskId(1)).unwrap();
    assert_eq!(states(&sim.drain(), 1), vec![AgentState::WrapUp]);
    sim.enqueue(2, Q1);
    assert!(sim.advance_ms(14_999).is_empty());
    let out = sim.advance(15.0);
    assert_eq!(
        states(&out, 1),
        vec![AgentState::Available, AgentState::Ringing]
    );
    assert_eq!(offers(&out)[0].1, TaskId(2));
}

#[test]
fn announce_on_join_and_every_30_s_with_estimate() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    // Handle one task: 50 s talk + 10 s wrap-up = 60 s.
    let out = sim.enqueue(1, Q1);
    assert!(
        announces(&out).is_empty(),
        "offered at once: no announcement"
    );
    sim.accept(offers(&out)[0].0);
    sim.advance(50.0);
    sim.router.task_ended(sim.now, TaskId(1)).unwrap();
    sim.advance(60.0);
    let out = sim.enqueue(2, Q1);
    sim.accept(offers(&out)[0].0);
    let min = Some(Duration::from_secs(60));
    let out = sim.enqueue(3, Q1);
    assert_eq!(announces(&out), vec![(3, 1, min)]);
    sim.advance(61.0);
    let out = sim.enqueue(4, Q1);
    assert_eq!(
        announces(&out),
        vec![(4, 2, Some(Duration::from_secs(120)))]
    );
    assert!(sim.advance_ms(89_999).is_empty());
    assert_eq!(announces(&sim.advance(90.0)), vec![(3, 1, min)]);
    assert_eq!(
        announces(&sim.advance(91.0)),
        vec![(4, 2, Some(Duration::from_secs(120)))]
    );
    assert_eq!(announces(&sim.advance(120.0)), vec![(3, 1, min)]);
}

#[test]
fn no_estimate_before_any_task_was_handled_and_no_announce_when_off() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        join_when_empty: true,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    assert_eq!(announces(&sim.enqueue(1, Q1)), vec![(1, 1, None)]);
    let cfg = QueueConfig {
        join_when_empty: true,
        announce_interval: None,
        ..QueueConfig::default()
    };
    sim.queue(Q2, cfg);
    assert!(announces(&sim.enqueue(2, Q2)).is_empty());
    assert!(announces(&sim.advance(300.0))
        .iter()
        .all(|(task, _, _)| *task == 1));
}

#[test]
fn max_wait_exactly() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        max_wait: Some(Duration::from_secs(60)),
        join_when_empty: true,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    sim.enqueue(1, Q1);
    assert!(left(&sim.advance_ms(59_999)).is_empty());
    assert_eq!(left(&sim.advance(60.0)), vec![(1, LeaveReason::Timeout)]);
    let c = sim.router.queue_counters(Q1).unwrap();
    assert_eq!((c.entered, c.timed_out), (1, 1));
    assert_eq!(sim.router.position(TaskId(1)), None);
}

#[test]
fn max_wait_while_ringing_cancels_the_offer() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        max_wait: Some(Duration::from_secs(10)),
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    sim.agents(Q1, &[1]);
    let offer = offers(&sim.enqueue(1, Q1))[0].0;
    let out = sim.advance(10.0);
    assert_eq!(cancels(&out), vec![(offer, CancelReason::TaskLeft)]);
    assert_eq!(left(&out), vec![(1, LeaveReason::Timeout)]);
    assert_eq!(
        sim.router.agent_state(AgentId(1)),
        Some(AgentState::Available)
    );
}

#[test]
fn zero_timeouts_do_not_spin() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        ring_timeout: Duration::ZERO,
        retry_delay: Duration::ZERO,
        wrap_up: Duration::ZERO,
        level_step: Duration::ZERO,
        announce_interval: Some(Duration::ZERO),
        strategy: Strategy::Skills,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    let mut agent = AgentConfig::in_queues("a", [Q1]);
    agent.max_missed = 0;
    sim.router.upsert_agent(sim.now, AgentId(1), agent);
    sim.router.login(sim.now, AgentId(1)).unwrap();
    sim.enqueue(1, Q1);
    // Each call does a bounded amount of work and reports the next due.
    for _ in 0..10 {
        sim.router.handle_timeout(sim.now);
        sim.drain();
        assert_eq!(sim.router.poll_timeout(), Some(sim.now));
    }
}
