//! Webhooks against a running `ura serve`: a call's events reach a local
//! receiver signed with the webhook's secret, a refused delivery is retried
//! and shows in the delivery log, a dead receiver never slows calls, and
//! pending deliveries outlive a restart. Companies see only their own.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::caller::Caller;
use common::receiver::{Received, Receiver};
use common::Ura;
use serde_json::{json, Value};

/// An HTTP request with `key`; (status, JSON body).
fn api_as(ura: &Ura, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("http://{}{path}", ura.http);
    let auth = format!("Bearer {key}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        ("POST", Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
        ("POST", None) => agent.post(&url).header("Authorization", &auth).send_empty(),
        ("PATCH", Some(b)) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .send_json(b),
        other => panic!("{other:?}"),
    };
    let mut resp = resp.expect("ura answers HTTP");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_json().unwrap_or(Value::Null);
    (status, body)
}

fn api(ura: &Ura, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    api_as(ura, &ura.api_key(), method, path, body)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn temp_data(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "ura-{name}-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ))
}

#[test]
fn a_calls_events_reach_the_webhook_signed_and_a_refused_delivery_is_retried() {
    let receiver = Receiver::start(1);
    let ura = Ura::start(&[]);
    let (status, hook) = api(
        &ura,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url(), "events": ["*"], "description": "CRM"})),
    );
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 38,
        "{secret}"
    );
    let id = hook["id"].as_str().unwrap().to_string();
    let (_, shown) = api(&ura, "GET", &format!("/api/v1/webhooks/{id}"), None);
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    // A super-admin's webhook with no company gets every company's events.
    assert_eq!(shown["company"], Value::Null);

    // A caller picks 1 (vendas: a queue with no agent on a phone), waits,
    // hangs up.
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    std::thread::sleep(Duration::from_millis(200));
    caller.silence(5);
    caller.rfc4733_digit('1');
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(caller.bye(), Some(200));
    // An agent logs out.
    let (status, _) = api(&ura, "POST", "/api/v1/agents/2001/logout", None);
    assert!((200..300).contains(&status), "{status}");

    let want = [
        "call.started",
        "call.answered",
        "ivr.option_selected",
        "queue.entered",
        "queue.left",
        "call.ended",
        "agent.state",
    ];
    // The first request got 503: its retry comes 10 s later.
    // Whichever request came first was refused; wait for its retry too.
    let got = receiver.wait(Duration::from_secs(25), |got| {
        let retried = got.iter().filter(|r| r.status == 503).all(|refused| {
            got.iter().any(|r| {
                r.status == 204 && r.headers["ura-delivery"] == refused.headers["ura-delivery"]
            })
        });
        retried
            && want
                .iter()
                .all(|w| got.iter().any(|r| r.kind() == *w && r.status == 204))
    });
    let kinds: Vec<String> = got.iter().map(Received::kind).collect();
    for w in want {
        assert!(
            got.iter().any(|r| r.kind() == w && r.status == 204),
            "{w} delivered; the receiver got {kinds:?}"
        );
    }
    for r in &got {
        let sig = r.headers.get("ura-signature").expect("signed");
        ura_webhooks::verify(sig, &secret, r.body.as_bytes(), now_s(), 300)
            .unwrap_or_else(|e| panic!("signature of {}: {e}", r.kind()));
        assert!(ura_webhooks::verify(sig, "whsec_wrong", r.body.as_bytes(), now_s(), 300).is_err());
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
        assert_eq!(r.headers.get("ura-event"), Some(&r.kind()));
        let body = r.json();
        assert_eq!(body["company"], "default");
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    }
    let event = |kind: &str| {
        got.iter()
            .find(|r| r.kind() == kind && r.status == 204)
            .unwrap()
            .json()
    };
    let call_id = event("call.started")["data"]["sip_call_id"].clone();
    assert_eq!(event("call.started")["data"]["number"], "1000");
    for kind in [
        "call.answered",
        "ivr.option_selected",
        "queue.entered",
        "queue.left",
        "call.ended",
    ] {
        assert_eq!(event(kind)["data"]["sip_call_id"], call_id, "{kind}");
    }
    assert_eq!(event("ivr.option_selected")["data"]["service"], "vendas");
    assert_eq!(event("queue.entered")["data"]["queue"], "vendas");
    assert_eq!(event("call.ended")["data"]["hangup_side"], "caller");
    assert_eq!(
        event("call.answered")["data"]["hangup_cause"],
        "in-progress"
    );
    let left = event("queue.left");
    assert!(left["data"]["wait_ms"].as_i64().unwrap() > 0, "{left}");
    let states: Vec<Value> = got
        .iter()
        .map(Received::json)
        .filter(|b| b["type"] == "agent.state" && b["data"]["agent"] == "2001")
        .map(|b| b["data"]["state"].clone())
        .collect();
    assert!(
        states.contains(&json!("logged-out")),
        "agent 2001's states: {states:?}"
    );

    // The delivery log: the refused one was tried twice.
    let (status, log) = api(
        &ura,
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries"),
        None,
    );
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    assert!(items.len() >= want.len(), "{log}");
    let retried: Vec<&Value> = items.iter().filter(|d| d["attempts"] == 2).collect();
    assert_eq!(retried.len(), 1, "{log}");
    assert_eq!(retried[0]["status"], "delivered");
    assert_eq!(retried[0]["last_code"], 204);
    assert!(items.iter().all(|d| d["status"] == "delivered"), "{log}");
    let (_, failed) = api(
        &ura,
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
        None,
    );
    assert_eq!(failed["items"], json!([]));

    // A ping reaches it too.
    let (status, ping) = api(&ura, "POST", &format!("/api/v1/webhooks/{id}/ping"), None);
    assert_eq!(status, 202, "{ping}");
    let got = receiver.wait(Duration::from_secs(5), |g| {
        g.iter().any(|r| r.kind() == "ping")
    });
    let ping_req = got
        .iter()
        .find(|r| r.kind() == "ping")
        .expect("ping delivered");
    assert_eq!(
        ping_req.headers.get("ura-delivery").map(String::as_str),
        ping["delivery"].as_str()
    );

    // Deleted: nothing more arrives.
    let (status, _) = api(&ura, "DELETE", &format!("/api/v1/webhooks/{id}"), None);
    assert_eq!(status, 204);
    let before = receiver.got().len();
    let mut c2 = Caller::new(ura.sip, false);
    assert_eq!(c2.call("1000").status(), Some(200));
    assert_eq!(c2.bye(), Some(200));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.got().len(), before);
}

#[test]
fn a_dead_receiver_never_slows_calls_and_pending_deliveries_outlive_a_restart() {
    // A port with nothing behind it (yet).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = temp_data("webhooks-dead");
    let mut ura = Ura::start_in(data.clone(), &[]);
    let (status, hook) = api(
        &ura,
        "POST",
        "/api/v1/webhooks",
        Some(json!({
            "url": format!("http://127.0.0.1:{port}/hook"),
            "events": ["call.started", "call.ended"],
            "secret": "a-secret-of-our-own",
        })),
    );
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["secret"], "a-secret-of-our-own");
    let id = hook["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    for _ in 0..5 {
        let mut c = Caller::new(ura.sip, false);
        assert_eq!(c.call("9000").status(), Some(200));
        assert_eq!(c.bye(), Some(200));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "5 calls took {took:?}");
    // Each delivery was tried once and waits for its retry.
    let log_path = format!("/api/v1/webhooks/{id}/deliveries?status=pending");
    let deadline = Instant::now() + Duration::from_secs(9);
    let pending = loop {
        let (_, log) = api(&ura, "GET", &log_path, None);
        let items = log["items"].as_array().unwrap().clone();
        if items.len() == 10 && items.iter().all(|d| d["attempts"] == 1)
            || Instant::now() > deadline
        {
            break items;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(pending.len(), 10, "{pending:?}");
    for d in &pending {
        assert_eq!(d["attempts"], 1, "{d}");
        assert!(d["next_attempt_at"].is_string(), "{d}");
        assert!(d["last_code"].is_null());
        assert!(!d["last_error"].as_str().unwrap().is_empty(), "{d}");
    }

    // Restarted, with the receiver up on that port: the pending ones are
    // delivered when their retry is due.
    ura.terminate();
    let receiver = Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), 0);
    let ura = Ura::start_in(data, &[]);
    let got = receiver.wait(Duration::from_secs(20), |g| g.len() >= 10);
    assert_eq!(got.len(), 10, "every pending delivery arrived once");
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["ura-delivery"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    for r in &got {
        assert_eq!(r.headers.get("ura-attempt").map(String::as_str), Some("2"));
        ura_webhooks::verify(
            &r.headers["ura-signature"],
            "a-secret-of-our-own",
            r.body.as_bytes(),
            now_s(),
            300,
        )
        .unwrap();
    }
    let (_, log) = api(
        &ura,
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries"),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = log;
    while log["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["status"] != "delivered")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        log = api(
            &ura,
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries"),
            None,
        )
        .1;
    }
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered"),
        "{log}"
    );
}

#[test]
fn webhooks_are_checked_and_each_company_sees_only_its_own() {
    let ura = Ura::start(&[]);
    for (body, field) in [
        (json!({"events": ["*"]}), "url"),
        (json!({"url": "ftp://x", "events": ["*"]}), "url"),
        (json!({"url": "http://", "events": ["*"]}), "url"),
        (json!({"url": "http://127.0.0.1:9/x"}), "events"),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["call.exploded"]}),
            "events[0]",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "colour": 1}),
            "colour",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "enabled": "yes"}),
            "enabled",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "company": "nope"}),
            "company",
        ),
    ] {
        let (status, err) = api(&ura, "POST", "/api/v1/webhooks", Some(body.clone()));
        assert_eq!(status, 422, "{body} → {err}");
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    let (_, mine) = api(
        &ura,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/default", "events": ["call.ended"]})),
    );
    let default_id = mine["id"].as_str().unwrap().to_string();
    // A second company and its key.
    let (status, _) = api(
        &ura,
        "POST",
        "/api/v1/companies",
        Some(json!({"id": "acme", "name": "Acme"})),
    );
    assert_eq!(status, 201);
    let (status, key) = api(
        &ura,
        "POST",
        "/api/v1/apikeys",
        Some(json!({"name": "acme admin", "company": "acme"})),
    );
    assert_eq!(status, 201, "{key}");
    let acme = key["key"].as_str().unwrap().to_string();
    let path = format!("/api/v1/webhooks/{default_id}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"enabled": false}))),
        ("DELETE", None),
    ] {
        let (status, _) = api_as(&ura, &acme, method, &path, body);
        assert_eq!(status, 404, "{method} another company's webhook");
    }
    let (status, _) = api_as(&ura, &acme, "POST", &format!("{path}/ping"), None);
    assert_eq!(status, 404);
    let (_, list) = api_as(&ura, &acme, "GET", "/api/v1/webhooks", None);
    assert_eq!(list["total"], 0, "{list}");
    let (status, theirs) = api_as(
        &ura,
        &acme,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/acme", "events": ["agent.state"]})),
    );
    assert_eq!(status, 201, "{theirs}");
    assert_eq!(theirs["company"], "acme");
    let (status, err) = api_as(
        &ura,
        &acme,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "company": "default"})),
    );
    assert_eq!(status, 403, "{err}");
    let (_, all) = api(&ura, "GET", "/api/v1/webhooks", None);
    assert_eq!(all["total"], 2, "the super-admin sees both: {all}");
    // A change keeps what is not named; disabling works.
    let (status, changed) = api(&ura, "PATCH", &path, Some(json!({"enabled": false})));
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["events"], json!(["call.ended"]));
    let (status, err) = api(&ura, "PATCH", &path, Some(json!({"company": "acme"})));
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("company"))
    );
}
