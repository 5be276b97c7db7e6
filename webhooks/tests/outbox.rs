//! The delivery schedule, with a simulated clock.

use serde_json::json;
use ura_webhooks::{
    verify, Event, EventType, Hook, Limits, Outbox, Output, Status, Subject, REPLAY_WINDOW_S,
};

const S: i64 = 1000;
const T0: i64 = 1_795_000_000_000;

fn hook(id: &str, company: Option<&str>, events: &[EventType]) -> Hook {
    Hook {
        id: id.into(),
        company: company.map(Into::into),
        url: format!("http://127.0.0.1:9/{id}"),
        secret: format!("secret-{id}"),
        events: events.iter().fold(0, |m, e| m | e.bit()),
        enabled: true,
    }
}

fn event(kind: EventType) -> Event {
    Event {
        kind,
        subject: Subject::Number("1000".into()),
        at_ms: T0,
        data: json!({"call_id": "abc"}),
    }
}

/// Everything the outbox wants now: (transmits, saves).
fn drain(o: &mut Outbox) -> (Vec<ura_webhooks::Attempt>, Vec<ura_webhooks::Delivery>) {
    let (mut t, mut s) = (Vec::new(), Vec::new());
    while let Some(out) = o.poll_output() {
        match out {
            Output::Transmit(a) => t.push(a),
            Output::Save(d) => s.push(d),
        }
    }
    (t, s)
}

#[test]
fn an_event_goes_to_the_subscribed_webhooks_of_its_company_signed_once_per_body() {
    let mut o = Outbox::new(Limits::default(), 1);
    let mask = o.set_hooks(vec![
        hook("a", Some("acme"), &[EventType::CallEnded]),
        hook("b", Some("acme"), &[EventType::CallStarted]),
        hook("c", Some("other"), &[EventType::CallEnded]),
        hook("all", None, &[EventType::CallEnded]),
    ]);
    assert_eq!(
        mask,
        EventType::CallEnded.bit() | EventType::CallStarted.bit()
    );
    let id = o.handle_event(T0, &event(EventType::CallEnded), "acme");
    let (sent, saved) = drain(&mut o);
    let mut hooks: Vec<_> = sent.iter().map(|a| a.hook.as_str()).collect();
    hooks.sort();
    assert_eq!(hooks, ["a", "all"]);
    assert_eq!(saved.len(), 2, "each delivery is kept from the start");
    assert!(saved
        .iter()
        .all(|d| d.status == Status::Pending && d.event_id == id));
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["type"], "call.ended");
    assert_eq!(body["company"], "acme");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["data"]["call_id"], "abc");
    // The signature a sender would put on it verifies with the hook's secret.
    let h = ura_webhooks::sign(&sent[0].secret, T0 / S, sent[0].body.as_bytes());
    assert!(verify(
        &h,
        &sent[0].secret,
        sent[0].body.as_bytes(),
        T0 / S,
        REPLAY_WINDOW_S
    )
    .is_ok());
}

#[test]
fn a_failing_receiver_is_retried_with_backoff_for_24_hours_then_given_up() {
    let mut o = Outbox::new(Limits::default(), 2);
    o.set_hooks(vec![hook("a", Some("acme"), &[EventType::CallEnded])]);
    o.handle_event(T0, &event(EventType::CallEnded), "acme");
    let mut now = T0;
    let mut attempts_at = Vec::new();
    loop {
        let (sent, _) = drain(&mut o);
        for a in sent {
            attempts_at.push((now - T0) / S);
            o.handle_result(now, a.delivery, Ok(503));
        }
        let (_, saved) = drain(&mut o);
        if saved.iter().any(|d| d.status == Status::Failed) {
            let d = saved.last().unwrap();
            assert_eq!(d.last_code, Some(503));
            assert_eq!(d.last_error.as_deref(), Some("HTTP 503"));
            break;
        }
        now = o.poll_timeout().expect("a retry is scheduled");
        o.handle_timeout(now);
    }
    assert_eq!(
        attempts_at,
        [
            0, 10, 40, 100, 220, 520, 1120, 2920, 6520, 13_720, 28_120, 42_520, 56_920, 71_320,
            85_720
        ],
        "seconds after the event"
    );
    assert!(*attempts_at.last().unwrap() <= 24 * 3600);
    assert_eq!(o.pending(), 0);
    assert_eq!(o.poll_timeout(), None);
}

#[test]
fn a_retry_that_succeeds_settles_the_delivery() {
    let mut o = Outbox::new(Limits::default(), 3);
    o.set_hooks(vec![hook("a", Some("acme"), &[EventType::AgentState])]);
    o.handle_event(T0, &event(EventType::AgentState), "acme");
    let (sent, _) = drain(&mut o);
    o.handle_result(T0 + 5, sent[0].delivery, Err("connection refused".into()));
    let (_, saved) = drain(&mut o);
    assert_eq!(saved[0].next_ms, Some(T0 + 5 + 10 * S));
    assert_eq!(saved[0].last_error.as_deref(), Some("connection refused"));
    o.handle_timeout(T0 + 9 * S);
    assert_eq!(drain(&mut o).0.len(), 0, "not before it is due");
    o.handle_timeout(T0 + 10 * S + 5);
    let (sent, _) = drain(&mut o);
    assert_eq!(sent[0].attempt, 2);
    o.handle_result(T0 + 11 * S, sent[0].delivery, Ok(204));
    let (_, saved) = drain(&mut o);
    assert_eq!(saved[0].status, Status::Delivered);
    assert_eq!(saved[0].attempts, 2);
    assert_eq!(o.pending(), 0);
}

#[test]
fn a_dead_receiver_holds_only_its_own_requests_and_a_full_one_drops_new_events() {
    let limits = Limits {
        in_flight: 6,
        in_flight_per_hook: 2,
        pending_per_hook: 50,
        ..Limits::default()
    };
    let mut o = Outbox::new(limits, 4);
    o.set_hooks(vec![
        hook("dead", Some("acme"), &[EventType::CallStarted]),
        hook("live", Some("acme"), &[EventType::CallStarted]),
    ]);
    for _ in 0..60 {
        o.handle_event(T0, &event(EventType::CallStarted), "acme");
    }
    assert_eq!(o.stats("dead").unwrap().dropped, 10);
    // The dead receiver never answers (its requests hang until a timeout);
    // the live one answers everything at once.
    let mut live = 0;
    loop {
        let (sent, _) = drain(&mut o);
        let mut progress = false;
        for a in sent {
            if a.hook == "live" {
                live += 1;
                progress = true;
                o.handle_result(T0, a.delivery, Ok(200));
            }
        }
        if !progress {
            break;
        }
    }
    assert_eq!(live, 50, "every event reached the live receiver");
    let dead = o.stats("dead").unwrap();
    assert_eq!(dead.in_flight, 2, "at most two requests to a receiver");
    assert_eq!(dead.pending, 50);
}

#[test]
fn deleting_a_webhook_drops_its_pending_deliveries_and_in_flight_ones_at_their_result() {
    let mut o = Outbox::new(Limits::default(), 5);
    o.set_hooks(vec![hook("a", Some("acme"), &[EventType::CallStarted])]);
    for _ in 0..6 {
        o.handle_event(T0, &event(EventType::CallStarted), "acme");
    }
    let (sent, _) = drain(&mut o);
    assert_eq!(sent.len(), 4, "four in flight, two ready");
    assert_eq!(o.set_hooks(vec![]), 0);
    let (_, saved) = drain(&mut o);
    assert_eq!(saved.len(), 2);
    assert!(saved.iter().all(|d| d.status == Status::Dropped));
    for a in &sent {
        o.handle_result(T0, a.delivery, Ok(200));
    }
    let (_, saved) = drain(&mut o);
    assert_eq!(saved.len(), 4);
    assert!(saved.iter().all(|d| d.status == Status::Dropped));
    assert_eq!((o.pending(), o.in_flight()), (0, 0));
}

#[test]
fn a_disabled_webhook_gets_nothing_new_and_a_restored_delivery_waits_for_its_time() {
    let mut o = Outbox::new(Limits::default(), 6);
    let mut h = hook("a", Some("acme"), &[EventType::CallStarted]);
    h.enabled = false;
    assert_eq!(o.set_hooks(vec![h.clone()]), 0);
    o.handle_event(T0, &event(EventType::CallStarted), "acme");
    assert_eq!(drain(&mut o), (vec![], vec![]));
    // A ping waits while it is disabled, and goes when it is enabled.
    let ping = o.ping(T0, "a", "acme").unwrap();
    assert_eq!(drain(&mut o).0.len(), 0);
    h.enabled = true;
    o.set_hooks(vec![h]);
    let (sent, _) = drain(&mut o);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].delivery, ping);
    assert_eq!(sent[0].event, EventType::Ping);
    // Restored from the store, due in a minute.
    let mut d = ura_webhooks::Delivery {
        id: ura_webhooks::DeliveryId(7),
        hook: "a".into(),
        event_id: "evt_1".into(),
        event: EventType::CallStarted,
        body: "{}".into(),
        created_ms: T0,
        attempts: 3,
        status: Status::Pending,
        next_ms: Some(T0 + 60 * S),
        last_ms: None,
        last_code: None,
        last_error: None,
    };
    o.restore(T0, d.clone());
    assert_eq!(drain(&mut o).0.len(), 0);
    assert_eq!(o.poll_timeout(), Some(T0 + 60 * S));
    o.handle_timeout(T0 + 60 * S);
    let (sent, _) = drain(&mut o);
    assert_eq!(sent[0].attempt, 4);
    // One whose webhook is gone is dropped.
    d.id = ura_webhooks::DeliveryId(8);
    d.hook = "gone".into();
    o.restore(T0, d);
    let (_, saved) = drain(&mut o);
    assert_eq!(saved[0].status, Status::Dropped);
}

/// Random receivers, random timing: no delivery is ever out twice at
/// once, the bounds hold, and every event ends delivered or failed.
#[test]
fn random_runs_keep_the_bounds_and_settle_every_delivery() {
    for seed in 0..40u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let limits = Limits {
            in_flight: 5,
            in_flight_per_hook: 2,
            ..Limits::default()
        };
        let mut o = Outbox::new(limits, seed);
        let hooks: Vec<Hook> = (0..4)
            .map(|i| hook(&format!("h{i}"), Some("acme"), &EventType::ALL))
            .collect();
        o.set_hooks(hooks);
        let mut now = T0;
        let mut out: Vec<ura_webhooks::Attempt> = Vec::new();
        let mut settled = 0;
        let events = 30;
        for i in 0..events + 2000 {
            if i < events {
                o.handle_event(now, &event(EventType::QueueEntered), "acme");
            }
            while let Some(x) = o.poll_output() {
                match x {
                    Output::Transmit(a) => {
                        assert!(out.iter().all(|b| b.delivery != a.delivery), "seed {seed}");
                        out.push(a);
                    }
                    Output::Save(d) if d.status != Status::Pending => settled += 1,
                    Output::Save(_) => {}
                }
            }
            assert!(out.len() <= 5);
            for h in 0..4 {
                assert!(out.iter().filter(|a| a.hook == format!("h{h}")).count() <= 2);
            }
            // Answer some of what is out; move time on.
            if !out.is_empty() && rng.bool() {
                let a = out.swap_remove(rng.usize(..out.len()));
                let code = if rng.u8(..4) == 0 { 200 } else { 500 };
                o.handle_result(now, a.delivery, Ok(code));
            } else if out.is_empty() {
                match o.poll_timeout() {
                    Some(t) => {
                        now = now.max(t);
                        o.handle_timeout(now);
                    }
                    None if i >= events => break,
                    None => {}
                }
            }
            now += rng.i64(0..2000);
        }
        assert_eq!(settled, events * 4, "seed {seed}");
        assert_eq!(o.pending(), 0);
    }
}
