//! Agent states: who is never offered, auto-pause, capacity per channel.

mod common;

use common::*;

#[test]
fn paused_logged_out_unreachable_and_busy_agents_are_never_offered() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2, 3, 4]);
    sim.router
        .pause(sim.now, AgentId(1), "lunch".into())
        .unwrap();
    sim.router.logout(sim.now, AgentId(2)).unwrap();
    sim.router
        .set_reachable(sim.now, AgentId(3), Channel::Voice, false)
        .unwrap();
    let out = sim.drain();
    assert_eq!(states(&out, 1), vec![AgentState::Paused("lunch".into())]);
    assert_eq!(states(&out, 2), vec![AgentState::LoggedOut]);
    let out = sim.enqueue(1, Q1);
    assert_eq!(offered_agents(&out), vec![4]);
    sim.accept(offers(&out)[0].0);
    // Agent 4 is busy: the next waits.
    assert!(offers(&sim.enqueue(2, Q1)).is_empty());
    // Agent 3 is unreachable for voice only: a chat can go to them.
    sim.router
        .enqueue(sim.now, TaskSpec::new(TaskId(3), Q1, Channel::Chat))
        .unwrap();
    let out = sim.drain();
    assert!(offered_agents(&out).contains(&3));
    sim.router
        .set_reachable(sim.now, AgentId(3), Channel::Voice, true)
        .unwrap();
    assert_eq!(offers(&sim.drain())[0].1, TaskId(2));
    sim.router.resume(sim.now, AgentId(1)).unwrap();
    assert_eq!(
        sim.drain(),
        vec![Output::AgentState {
            agent: AgentId(1),
            state: AgentState::Available
        }]
    );
}

#[test]
fn three_misses_in_a_row_pause_the_agent() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    sim.enqueue(1, Q1);
    // No answer at 20, 45, 70 s (retry 5 s after each).
    sim.advance(20.0);
    sim.advance(25.0);
    sim.advance(45.0);
    sim.advance(50.0);
    let out = sim.advance(70.0);
    assert_eq!(
        states(&out, 1),
        vec![AgentState::Paused(MISSED_CALLS.into())]
    );
    assert!(offers(&sim.advance(75.0)).is_empty());
    let c = sim.router.agent_counters(AgentId(1)).unwrap();
    assert_eq!((c.offers, c.missed, c.answered), (3, 3, 0));
    // Resume: offered again, answering resets the count.
    sim.router.resume(sim.now, AgentId(1)).unwrap();
    let out = sim.drain();
    sim.accept(offers(&out)[0].0);
    assert_eq!(sim.router.agent_state(AgentId(1)), Some(AgentState::Busy));
}

#[test]
fn unreachable_failure_is_not_a_miss_but_marks_the_agent() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let offer = offers(&sim.enqueue(1, Q1))[0].0;
    sim.router
        .offer_failed(sim.now, offer, OfferFailure::Unreachable)
        .unwrap();
    sim.drain();
    assert_eq!(sim.router.agent_counters(AgentId(1)).unwrap().missed, 0);
    assert!(offers(&sim.advance(60.0)).is_empty());
    sim.router
        .set_reachable(sim.now, AgentId(1), Channel::Voice, true)
        .unwrap();
    assert_eq!(offered_agents(&sim.drain()), vec![1]);
}

#[test]
fn busy_failure_counts_as_a_miss() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let offer = offers(&sim.enqueue(1, Q1))[0].0;
    sim.router
        .offer_failed(sim.now, offer, OfferFailure::Busy)
        .unwrap();
    assert_eq!(sim.router.agent_counters(AgentId(1)).unwrap().missed, 1);
    assert_eq!(
        sim.router.offer_failed(sim.now, offer, OfferFailure::Busy),
        Err(RouterError::UnknownOffer(offer))
    );
}

#[test]
fn voice_one_plus_chats_up_to_three() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let out = sim.enqueue(1, Q1);
    sim.accept(offers(&out)[0].0);
    for task in 10..14 {
        sim.router
            .enqueue(sim.now, TaskSpec::new(TaskId(task), Q1, Channel::Chat))
            .unwrap();
    }
    let out = sim.drain();
    let chats = offers(&out);
    assert_eq!(chats.len(), 3, "{out:?}");
    assert!(chats.iter().all(|(_, _, a)| *a == AgentId(1)));
    assert!(
        offers(&sim.enqueue(2, Q1)).is_empty(),
        "no second voice task"
    );
    for (offer, _, _) in &chats {
        sim.router.offer_accepted(sim.now, *offer).unwrap();
    }
    sim.drain();
    // A chat ends: its wrap-up holds the slot for 10 s.
    sim.router.task_ended(sim.now, TaskId(10)).unwrap();
    assert!(offers(&sim.drain()).is_empty());
    let out = sim.advance(10.0);
    assert_eq!(offers(&out).len(), 1);
    assert_eq!(offers(&out)[0].1, TaskId(13));
}

#[test]
fn an_agent_ringing_on_voice_gets_no_second_voice_offer() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::RingAll));
    sim.agents(Q1, &[1]);
    assert_eq!(offers(&sim.enqueue(1, Q1)).len(), 1);
    assert!(offers(&sim.enqueue(2, Q1)).is_empty());
}

#[test]
fn unknown_ids_are_errors_not_panics() {
    let mut sim = Sim::new();
    let now = sim.now;
    let r = &mut sim.router;
    assert_eq!(
        r.login(now, AgentId(5)),
        Err(RouterError::UnknownAgent(AgentId(5)))
    );
    assert!(r.logout(now, AgentId(5)).is_err());
    assert!(r.pause(now, AgentId(5), String::new()).is_err());
    assert!(r.resume(now, AgentId(5)).is_err());
    assert!(r
        .set_reachable(now, AgentId(5), Channel::Chat, true)
        .is_err());
    assert!(r.offer_accepted(now, OfferId(1)).is_err());
    assert!(r
        .offer_failed(now, OfferId(1), OfferFailure::NoAnswer)
        .is_err());
    assert!(r.task_ended(now, TaskId(1)).is_err());
    assert!(r.abandon(now, TaskId(1)).is_err());
    assert!(r.transfer_to_queue(now, TaskId(1), Q1).is_err());
    assert!(r.offer_direct(now, TaskId(1), AgentId(1)).is_err());
    assert_eq!(r.agent_state(AgentId(5)), None);
    assert!(r.queue_status(now, Q1).is_none());
    r.handle_timeout(now);
    assert_eq!(r.poll_output(), None);
}

#[test]
fn config_reload_keeps_waiting_tasks_and_agent_state() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2]);
    let out = sim.enqueue(1, Q1);
    sim.accept(offers(&out)[0].0);
    sim.router.pause(sim.now, AgentId(2), "x".into()).unwrap();
    sim.enqueue(2, Q1);
    sim.enqueue(3, Q1);
    sim.queue(Q1, QueueConfig::with_strategy(Strategy::RoundRobin));
    let cfg = AgentConfig::in_queues("renamed", [Q1]);
    sim.router.upsert_agent(sim.now, AgentId(1), cfg);
    assert!(sim.drain().is_empty());
    assert_eq!(sim.router.agent_state(AgentId(1)), Some(AgentState::Busy));
    assert_eq!(sim.router.position(TaskId(3)), Some(2));
    sim.router.resume(sim.now, AgentId(2)).unwrap();
    assert_eq!(offers(&sim.drain())[0].1, TaskId(2));
}

#[test]
fn pausing_while_ringing_keeps_the_offer_answerable() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1]);
    let offer = offers(&sim.enqueue(1, Q1))[0].0;
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    assert!(cancels(&sim.drain()).is_empty());
    let out = sim.accept(offer);
    assert!(out.iter().any(|o| matches!(o, Output::TaskAssigned { .. })));
}

#[test]
fn unreachable_while_ringing_withdraws_and_reroutes_at_once() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2]);
    let (offer, _, agent) = offers(&sim.enqueue(1, Q1))[0];
    assert_eq!(agent, AgentId(1));
    sim.router
        .set_reachable(sim.now, AgentId(1), Channel::Voice, false)
        .unwrap();
    let out = sim.drain();
    assert_eq!(cancels(&out), vec![(offer, CancelReason::AgentUnreachable)]);
    assert_eq!(offered_agents(&out), vec![2]);
    assert_eq!(sim.router.agent_counters(AgentId(1)).unwrap().missed, 0);
}

#[test]
fn an_agent_in_two_queues_gets_the_task_that_entered_first() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.queue(Q2, QueueConfig::default());
    let cfg = AgentConfig::in_queues("both", [Q1, Q2]);
    sim.router.upsert_agent(sim.now, AgentId(1), cfg);
    sim.router.login(sim.now, AgentId(1)).unwrap();
    sim.router.pause(sim.now, AgentId(1), "x".into()).unwrap();
    sim.enqueue(1, Q2);
    sim.enqueue(2, Q1);
    let spec = TaskSpec::new(TaskId(3), Q1, Channel::Voice).with_priority(1);
    sim.router.enqueue(sim.now, spec).unwrap();
    sim.router.resume(sim.now, AgentId(1)).unwrap();
    // Priority first, then the oldest across both queues.
    assert_eq!(offers(&sim.drain())[0].1, TaskId(3));
    sim.router.abandon(sim.now, TaskId(3)).unwrap();
    assert_eq!(offers(&sim.drain())[0].1, TaskId(1));
}

/// Chats and calls in one queue, as the web chat puts them: an agent on a
/// call still gets chats (capacity is per channel), an agent with three
/// chats is skipped for the next one, and a call still reaches an agent
/// whose chats are full.
#[test]
fn chats_and_calls_share_one_queue_by_channel_capacity() {
    let mut sim = Sim::new();
    sim.queue(Q1, QueueConfig::default());
    sim.agents(Q1, &[1, 2]);
    let chat = |sim: &mut Sim, task: u64| {
        sim.router
            .enqueue(sim.now, TaskSpec::new(TaskId(task), Q1, Channel::Chat))
            .unwrap();
        sim.drain()
    };
    // Agent 2 is away: agent 1 takes a call, then three chats on top.
    sim.router
        .pause(sim.now, AgentId(2), "away".into())
        .unwrap();
    sim.drain();
    let call = offers(&sim.enqueue(1, Q1));
    assert_eq!(call.len(), 1);
    assert_eq!(call[0].2, AgentId(1));
    sim.accept(call[0].0);
    for task in 10..13 {
        let out = chat(&mut sim, task);
        assert_eq!(
            offered_agents(&out),
            vec![1],
            "chat {task} goes to the agent on the call"
        );
        sim.accept(offers(&out)[0].0);
    }
    // A fourth chat: agent 1 is at capacity, nobody else is available.
    assert!(offers(&chat(&mut sim, 13)).is_empty());
    // Agent 2 comes back: the waiting chat goes to them, not to agent 1.
    sim.router.resume(sim.now, AgentId(2)).unwrap();
    let out = sim.drain();
    assert_eq!(offers(&out).len(), 1);
    assert_eq!(
        (offers(&out)[0].1, offers(&out)[0].2),
        (TaskId(13), AgentId(2))
    );
    sim.accept(offers(&out)[0].0);
    // Two more chats fill agent 2; the next one waits for a free slot.
    for task in 14..16 {
        let out = chat(&mut sim, task);
        assert_eq!(offered_agents(&out), vec![2]);
        sim.accept(offers(&out)[0].0);
    }
    assert!(offers(&chat(&mut sim, 16)).is_empty());
    // A call still reaches agent 2 (chats full, voice free).
    let out = sim.enqueue(2, Q1);
    assert_eq!(offered_agents(&out), vec![2]);
    // A chat ends on agent 1: after wrap-up the waiting chat goes there.
    sim.router.task_ended(sim.now, TaskId(10)).unwrap();
    sim.drain();
    let out = sim.advance(10.0);
    assert_eq!(offers(&out).len(), 1, "{out:?}");
    assert_eq!(
        (offers(&out)[0].1, offers(&out)[0].2),
        (TaskId(16), AgentId(1))
    );
}
