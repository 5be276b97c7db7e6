//! Queue limits: max waiting, joining and leaving an empty queue.

mod common;

use common::*;

#[test]
fn max_waiting_refuses_the_next() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        max_waiting: Some(2),
        join_when_empty: true,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    sim.enqueue(1, Q1);
    sim.enqueue(2, Q1);
    let spec = TaskSpec::new(TaskId(3), Q1, Channel::Voice);
    assert_eq!(
        sim.router.enqueue(sim.now, spec.clone()),
        Err(RouterError::QueueFull(Q1))
    );
    assert_eq!(sim.router.position(TaskId(3)), None);
    sim.router.abandon(sim.now, TaskId(1)).unwrap();
    assert_eq!(sim.router.enqueue(sim.now, spec), Ok(()));
    let c = sim.router.queue_counters(Q1).unwrap();
    assert_eq!((c.entered, c.refused, c.abandoned), (3, 1, 1));
}

#[test]
fn join_empty_is_refused_unless_allowed() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    let spec = TaskSpec::new(TaskId(1), Q1, Channel::Voice);
    assert_eq!(
        sim.router.enqueue(sim.now, spec.clone()),
        Err(RouterError::NobodyLoggedIn(Q1))
    );
    // A paused agent counts as logged in.
    sim.agents(Q1, &[1]);
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    assert_eq!(sim.router.enqueue(sim.now, spec), Ok(()));
    assert_eq!(
        sim.router.enqueue(
            sim.now,
            TaskSpec::new(TaskId(2), QueueId(9), Channel::Voice)
        ),
        Err(RouterError::UnknownQueue(QueueId(9)))
    );
    assert_eq!(
        sim.router
            .enqueue(sim.now, TaskSpec::new(TaskId(1), Q1, Channel::Voice)),
        Err(RouterError::DuplicateTask(TaskId(1)))
    );
}

#[test]
fn last_agent_logging_out_sends_waiting_tasks_away() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2]);
    let out = sim.enqueue(1, Q1);
    let out = sim.accept(offers(&out)[0].0);
    assert!(!out.is_empty());
    let ringing = offers(&sim.enqueue(2, Q1))[0];
    sim.enqueue(3, Q1);
    // Agent 2 (ringing task 2) logs out; agent 1 is still logged in.
    let out = {
        sim.router.logout(sim.now, ringing.2).unwrap();
        sim.drain()
    };
    assert_eq!(
        cancels(&out),
        vec![(ringing.0, CancelReason::AgentLoggedOut)]
    );
    assert!(left(&out).is_empty());
    sim.router.logout(sim.now, AgentId(1)).unwrap();
    let out = sim.drain();
    assert_eq!(
        left(&out),
        vec![
            (2, LeaveReason::NobodyLoggedIn),
            (3, LeaveReason::NobodyLoggedIn)
        ]
    );
    // The connected task is not affected; it ends without wrap-up.
    sim.router.task_ended(sim.now, TaskId(1)).unwrap();
    let c = sim.router.queue_counters(Q1).unwrap();
    assert_eq!((c.entered, c.answered, c.left_empty), (3, 1, 2));
    assert_eq!(
        sim.router.agent_state(AgentId(1)),
        Some(AgentState::LoggedOut)
    );
}

#[test]
fn tasks_stay_when_leave_when_empty_is_off() {
    let mut sim = Sim::new();
    let cfg = QueueConfig {
        leave_when_empty: false,
        ..QueueConfig::default()
    };
    sim.queue(Q1, cfg);
    sim.agents(Q1, &[1]);
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    sim.enqueue(1, Q1);
    sim.router.logout(sim.now, AgentId(1)).unwrap();
    assert!(left(&sim.drain()).is_empty());
    assert_eq!(sim.router.position(TaskId(1)), Some(1));
    sim.router.login(sim.now, AgentId(1)).unwrap();
    assert_eq!(offered_agents(&sim.drain()), vec![1]);
}
